// `moe-prof run` end to end for real, on a CPU: the built CLI, the real worker, a real
// transformers model (tiny Qwen2-MoE, random weights) under the lock's torch 2.9.1 and
// transformers 4.57.6, the real capture core (its CPU path) and writer process. The log is
// validated, conservation checked, and the two passes compared, by `run` itself.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { CLI, tempDir, venvPython } from "./helpers.js";
import { cpuRunCommand } from "../src/config/cpu-run.js";

const python = venvPython();
const skip = python === null ? "no venv Python (run `moe-prof setup`); CI runs this test" : false;
// Exactly the command that the "no CUDA GPU" preflight failure and README give a CPU-only user.
const cpuRun = cpuRunCommand().split(" ");
assert.deepEqual(cpuRun.slice(0, 2), ["moe-prof", "run"]);
const args = (out: string, ...more: string[]) => [
  CLI,
  ...cpuRun.slice(1),
  "--python",
  python ?? "",
  "--out",
  out,
  ...more,
];
const json = (f: string) => JSON.parse(readFileSync(f, "utf8"));

test(
  "a real run on the CPU: complete result directory, valid log, conservation, identical passes",
  { skip, timeout: 900_000 },
  () => {
    const out = path.join(tempDir(), "res");
    const r = spawnSync(process.execPath, args(out, "--deterministic", "--log-format", "both"), {
      encoding: "utf8",
      timeout: 900_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!existsSync(`${out}.partial`));
    for (const f of [
      "moe_routes.jsonl",
      "expert_hist.png",
      "expert_heatmap.png",
      "summary.json",
      "timing.json",
      "passes.json",
    ])
      assert.ok(existsSync(path.join(out, f)), f);
    const v = spawnSync(process.execPath, [CLI, "validate", path.join(out, "moe_routes.jsonl")], { encoding: "utf8" });
    assert.equal(v.status, 0, v.stderr);
    const meta = JSON.parse(readFileSync(path.join(out, "moe_routes.jsonl"), "utf8").split("\n", 1)[0]!);
    assert.equal(meta.engine, "hf");
    assert.deepEqual(meta.layers_logged, [0, 2, 3]); // layer 1 is dense (mlp_only_layers)
    assert.equal(meta.top_k, 2);
    assert.equal(meta.num_experts, 8);
    assert.equal(meta.num_layers, 4); // the config's num_hidden_layers: layer 1 exists, unlogged
    assert.match(meta.device, /^cpu/);
    assert.equal(meta.prefix_caching, false);
    const summary = json(path.join(out, "summary.json"));
    const c = summary.run.conservation[0];
    assert.equal(c.ok, true, c.violations.join("; "));
    assert.equal(summary.rows, c.expected_rows_per_layer * 3);
    assert.equal(summary.run.output_agreement[0].identical, 4);
    const passes = json(path.join(out, "passes.json"));
    assert.equal(passes[1].capture.rows_written, c.expected_rows_per_layer);
    assert.equal(passes[1].capture.writer_stalls, 0);
    assert.match(r.stdout, /conservation: ok, \d+ rows per layer x 3 layers for 4 requests/);
    // progress: the hf worker reports tokens every step, not only finished requests
    const progress = readFileSync(path.join(out, "logs", "worker-log-1.protocol.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
      .filter((m) => m.type === "progress");
    const outputTokens = passes[1].output_token_ids.flat().length;
    assert.ok(progress.length >= 12, `one message per step (12 tokens each): ${progress.length}`);
    assert.ok(
      progress.some((m) => m.done === 0 && m.tokens > 0),
      "tokens before the first request finished",
    );
    progress.slice(1).forEach((m, i) => assert.ok(m.tokens > progress[i].tokens));
    assert.deepEqual(
      [progress.at(-1).tokens, progress.at(-1).tokens_at_most, progress.at(-1).done],
      [outputTokens, outputTokens, 4],
    );
    // a CPU's timings: said to be noise, in the terminal and in timing.json; one load_s per pass,
    // the engine's own part of it by its own name
    const timing = json(path.join(out, "timing.json"));
    assert.equal(timing.overhead.cpu_noise, true);
    assert.match(r.stdout, /on a CPU these timings and ratios are noise/);
    assert.equal(timing.engine.load_s, undefined);
    assert.ok(timing.log.engine_load_s > 0 && timing.log.engine_load_s < timing.log.load_s, JSON.stringify(timing.log));
    assert.equal(passes[1].engine.load_s, undefined);
    // --log-format both: the capture's Parquet file beside the JSONL, with the same analysis
    const pq = path.join(out, "moe_routes.parquet");
    assert.ok(existsSync(pq));
    const a = spawnSync(
      process.execPath,
      [CLI, "hist", path.join(out, "moe_routes.jsonl"), "--out", tempDir(), "--json"],
      { encoding: "utf8" },
    );
    const b = spawnSync(process.execPath, [CLI, "hist", pq, "--out", tempDir(), "--json"], { encoding: "utf8" });
    assert.equal(b.status, 0, b.stderr);
    assert.deepEqual({ ...JSON.parse(b.stdout), source: null }, { ...JSON.parse(a.stdout), source: null });
  },
);

test(
  "--layers naming a dense layer is refused by the worker before the model loads",
  { skip, timeout: 300_000 },
  () => {
    const out = path.join(tempDir(), "res");
    const r = spawnSync(process.execPath, args(out, "--layers", "0-1"), { encoding: "utf8", timeout: 300_000 });
    assert.equal(r.status, 1);
    const last = r.stderr.trim().split("\n").pop()!;
    assert.match(last, /--layers 0-1: layers 1 are not MoE layers of this model \(its MoE layers: 0,2-3\)/);
    assert.doesNotMatch(r.stdout + r.stderr, /model loaded/);
  },
);
