import { test } from "node:test";
import assert from "node:assert/strict";
import { buildTiming, median, type PassRecord } from "../src/passes/timing.js";

const rec = (pass: "no_log" | "log", repeat: number, generate_s: number): PassRecord => ({
  pass,
  repeat,
  wall_s: generate_s + 10,
  load_s: 5,
  engine_load_s: repeat,
  warmup_s: 1,
  generate_s,
  prompt_tokens: 100,
  output_tokens: 1000,
  tokens_per_s: 1000 / generate_s,
});

test("median", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  assert.throws(() => median([]));
});

test("timing.json: medians per pass kind and log/no-log ratios", () => {
  const t = buildTiming(
    [
      rec("no_log", 1, 10),
      rec("log", 1, 10.1),
      rec("no_log", 2, 9),
      rec("log", 2, 50),
      rec("no_log", 3, 11),
      rec("log", 3, 10.2),
    ],
    {
      engine: "hf",
    },
  );
  assert.equal(t.no_log.generate_s, 10);
  assert.equal(t.log.generate_s, 10.2);
  assert.equal(t.no_log.tokens_per_s, 100);
  assert.equal(t.log.tokens_per_s, Number((1000 / 10.2).toFixed(2)));
  assert.equal(t.overhead.tokens_per_s_ratio, Number((1000 / 10.2 / 100).toFixed(4)));
  assert.equal(t.overhead.generate_s_ratio, 1.02);
  assert.equal(t.overhead.repeats, 3);
  assert.deepEqual(t.overhead.paired_tokens_per_s_ratios, [0.9901, 0.18, 1.0784]);
  assert.equal(t.overhead.median_paired_tokens_per_s_ratio, 0.9901);
  assert.equal(t.no_log.repeats.length, 3);
  assert.deepEqual(t.engine, { engine: "hf" });
  assert.equal(t.no_log.output_tokens, 1000);
  // one load_s per pass kind (the worker's load phase), and the engine's own part of it by its own name
  assert.equal(t.no_log.load_s, 5);
  assert.equal(t.no_log.engine_load_s, 2);
  assert.equal(t.overhead.cpu_noise, false);
});

test("timing.json says when the passes ran on a CPU: the ratios are noise there", () => {
  const recs = [rec("no_log", 1, 10), rec("log", 1, 10.1)];
  assert.equal(buildTiming(recs, { engine: "hf", device: "cpu (x86_64)" }).overhead.cpu_noise, true);
  assert.equal(buildTiming(recs, { engine: "hf", device: "NVIDIA H100 80GB HBM3" }).overhead.cpu_noise, false);
  assert.equal(buildTiming(recs, { engine: "vllm" }).overhead.cpu_noise, false);
});

test("timing needs both pass kinds", () => {
  assert.throws(() => buildTiming([rec("no_log", 1, 1)], {}));
});
