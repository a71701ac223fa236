import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { resolveRunConfig, runOptionsSchema, DEFAULT_MODEL, timestampDirName } from "../src/config/run-options.js";
import { UserError } from "../src/errors.js";

const now = new Date("2026-11-26T14:31:50.123Z");
const resolve = (raw: Record<string, unknown>) => resolveRunConfig(raw, { python: "py", now });

test("defaults follow the product: Qwen GPTQ, 25 prompts, greedy, seed 1234, 256 tokens, vllm", () => {
  const c = resolve({});
  assert.equal(c.model, DEFAULT_MODEL);
  assert.equal(c.numPrompts, 25);
  assert.equal(c.temperature, 0);
  assert.equal(c.seed, 1234);
  assert.equal(c.maxTokens, 256);
  assert.equal(c.engine, "vllm");
  assert.equal(c.python, "py");
  assert.equal(c.repeats, 1);
  assert.equal(c.outDir, path.resolve("moe-prof-out", "2026-11-26T14-31-50Z"));
  assert.equal(timestampDirName(now), "2026-11-26T14-31-50Z");
});

test("commander strings are coerced and checked", () => {
  const c = resolve({ numPrompts: "4", maxTokens: "32", gpuMemoryUtilization: "0.5", layers: "0,5-7", out: "x" });
  assert.equal(c.numPrompts, 4);
  assert.equal(c.maxTokens, 32);
  assert.equal(c.gpuMemoryUtilization, 0.5);
  assert.deepEqual(c.layers, [0, 5, 6, 7]);
  assert.equal(c.outDir, path.resolve("x"));
});

for (const [raw, flag] of [
  [{ numPrompts: "0" }, "--num-prompts"],
  [{ maxTokens: "ten" }, "--max-tokens"],
  [{ gpuMemoryUtilization: "1.5" }, "--gpu-memory-utilization"],
  [{ layers: "0,a" }, "--layers"],
  [{ layers: "3-1" }, "--layers"],
  [{ engine: "tgi" }, "--engine"],
  [{ randomWeights: true }, "--random-weights"],
  [{ randomWeights: true, engine: "hf" }, "--config"],
  [{ prompts: "p.txt", datasetUrl: "https://example.org/x.jsonl" }, "--prompts"],
  // one engine's settings given to the other: refused, not silently dropped
  [{ engine: "hf", tensorParallelSize: "2" }, "--tensor-parallel-size"],
  [{ engine: "hf", maxModelLen: "4096" }, "--max-model-len"],
  [{ engine: "hf", gpuMemoryUtilization: "0.5" }, "--gpu-memory-utilization"],
  [{ config: "fixtures/models/qwen1.5-moe-a2.7b" }, "--config"],
  [{ tokenizer: "fixtures/models/qwen1.5-moe-a2.7b" }, "--tokenizer"],
] as const) {
  test(`bad option names its flag: ${flag} ${JSON.stringify(raw)}`, () => {
    assert.throws(
      () => resolve(raw),
      (e: unknown) => e instanceof UserError && e.exitCode === 2 && e.message.startsWith(`${flag}:`),
    );
  });
}

// Every numeric option of `run`, with a value that is not a number and one out of range: the
// message names the flag and quotes what was typed (z.coerce used to say "expected number,
// received NaN", and read "" as 0).
const NUMERIC: [key: string, flag: string, outOfRange: string, rangeMessage: string][] = [
  ["numPrompts", "--num-prompts", "0", "must be >= 1"],
  ["maxTokens", "--max-tokens", "0", "must be >= 1"],
  ["temperature", "--temperature", "-0.5", "must be >= 0"],
  ["seed", "--seed", "4294967296", "must be at most 4294967295"],
  ["tensorParallelSize", "--tensor-parallel-size", "0", "must be >= 1"],
  ["gpuMemoryUtilization", "--gpu-memory-utilization", "0", "must be > 0"],
  ["maxModelLen", "--max-model-len", "15", "must be >= 16"],
  ["repeats", "--repeats", "0", "must be >= 1"],
  ["warmupPrompts", "--warmup-prompts", "-1", "must be >= 0"],
];
const message = (raw: Record<string, unknown>): string => {
  try {
    resolve(raw);
  } catch (e) {
    assert.ok(e instanceof UserError && e.exitCode === 2, String(e));
    return e.message;
  }
  return "(accepted)";
};

for (const [key, flag, outOfRange, rangeMessage] of NUMERIC) {
  test(`${flag}: a value that is not a number, or out of range, is named and quoted`, () => {
    const kind = key === "temperature" || key === "gpuMemoryUtilization" ? "a number" : "an integer";
    for (const bad of ["abc", "", " ", "0x10", "1,5", "Infinity", "NaN"])
      assert.equal(message({ [key]: bad }), `${flag}: must be ${kind}, got ${JSON.stringify(bad)}`);
    assert.ok(message({ [key]: outOfRange }).startsWith(`${flag}: ${rangeMessage}`), message({ [key]: outOfRange }));
    assert.ok(message({ [key]: outOfRange }).endsWith(`, got "${outOfRange}"`));
    if (kind === "an integer") assert.equal(message({ [key]: "2.5" }), `${flag}: must be an integer, got "2.5"`);
  });
}

test("numeric options read decimal text: signs, spaces around, exponents", () => {
  const c = resolve({
    temperature: " 0.7 ",
    maxTokens: "1e3",
    seed: "+7",
    gpuMemoryUtilization: ".5",
    maxModelLen: "4096",
  });
  assert.equal(c.temperature, 0.7);
  assert.equal(c.maxTokens, 1000);
  assert.equal(c.seed, 7);
  assert.equal(c.gpuMemoryUtilization, 0.5);
  assert.equal(c.maxModelLen, 4096);
  assert.equal(message({ maxTokens: "1e20" }), `--max-tokens: must be at most 9007199254740991, got "1e20"`);
});

test('the table above holds every numeric option of run (every option that reads "1" or "16" as a number)', () => {
  const numeric = Object.entries(runOptionsSchema.shape)
    .filter(([, schema]) =>
      ["1", "16"].some((v) => typeof (schema.safeParse(v) as { data?: unknown }).data === "number"),
    )
    .map(([key]) => key);
  assert.deepEqual(numeric.sort(), NUMERIC.map(([k]) => k).sort());
});

test("the CLI: --temperature abc is one line naming the option, exit 2", async () => {
  const { execa } = await import("execa");
  const { CLI } = await import("./helpers.js");
  const r = await execa(process.execPath, [CLI, "run", "--temperature", "abc", "--python", "/nonexistent/python"], {
    reject: false,
  });
  assert.equal(r.exitCode, 2);
  assert.equal(r.stderr, 'moe-prof: --temperature: must be a number, got "abc"');
});

test("--config without a tokenizer (tiny-qwen2-moe has none) is refused at once, naming --tokenizer and the bundled one", async () => {
  const { execa } = await import("execa");
  const { CLI } = await import("./helpers.js");
  const tiny = "fixtures/models/tiny-qwen2-moe";
  const args = ["run", "--engine", "hf", "--device", "cpu", "--random-weights", "--config", tiny];
  // a Python that does not exist: the refusal comes before any Python is asked
  const r = await execa(process.execPath, [CLI, ...args, "--python", "/nonexistent/python"], { reject: false });
  assert.equal(r.exitCode, 2);
  assert.equal(
    r.stderr,
    `moe-prof: --config ${tiny}: has no tokenizer, and without --tokenizer it is read from there: pass --tokenizer DIR, e.g. --tokenizer fixtures/models/qwen1.5-moe-a2.7b`,
  );
  // with the one it names, the options pass
  const withTokenizer = resolve({
    engine: "hf",
    randomWeights: true,
    config: tiny,
    tokenizer: "fixtures/models/qwen1.5-moe-a2.7b",
  });
  assert.equal(withTokenizer.tokenizer, "fixtures/models/qwen1.5-moe-a2.7b");
  assert.equal(
    message({ engine: "hf", config: "fixtures" }),
    "--config fixtures: has no config.json (it names a model directory with its config.json)",
  );
  assert.equal(
    message({ engine: "hf", config: "no/such/dir" }),
    "--config no/such/dir: not a directory (it names a model directory with its config.json)",
  );
  assert.equal(
    message({ engine: "hf", randomWeights: true, config: tiny, tokenizer: "fixtures" }),
    "--tokenizer fixtures: has no tokenizer (none of tokenizer.json, tokenizer_config.json, tokenizer.model, vocab.json)",
  );
  // a --tokenizer that is no directory here is a Hugging Face id: transformers resolves it
  assert.equal(
    resolve({ engine: "hf", randomWeights: true, config: tiny, tokenizer: "Qwen/Qwen1.5-MoE-A2.7B" }).tokenizer,
    "Qwen/Qwen1.5-MoE-A2.7B",
  );
});

test("a random-weights model is named after its config, not the default checkpoint", () => {
  const c = resolve({ engine: "hf", randomWeights: true, config: "fixtures/models/qwen1.5-moe-a2.7b" });
  assert.equal(c.model, "random-weights/qwen1.5-moe-a2.7b");
  assert.equal(
    resolve({ engine: "hf", randomWeights: true, config: "fixtures/models/qwen1.5-moe-a2.7b", model: "m" }).model,
    "m",
  );
});

test("run directory problems are one line with exit 2, not an internal error", async () => {
  const { writeFileSync } = await import("node:fs");
  const { tempDir } = await import("./helpers.js");
  const { createRunDir } = await import("../src/artifacts/run-dir.js");
  const dir = tempDir();
  const file = path.join(dir, "a-file");
  writeFileSync(file, "x");
  assert.throws(
    () => createRunDir(path.join(file, "run")),
    (e: unknown) =>
      e instanceof UserError &&
      e.exitCode === 2 &&
      /^--out .*a-file\/run: cannot create the run directory: a part of the path is a file, not a directory \(ENOTDIR\)$/.test(
        e.message,
      ),
  );
  assert.throws(
    () => createRunDir(file),
    (e: unknown) =>
      e instanceof UserError && e.exitCode === 2 && e.message === `--out ${file}: is a file, not a directory`,
  );
  const ok = createRunDir(path.join(dir, "fresh"));
  assert.equal(ok.work, path.join(dir, "fresh.partial"));
});

test("a Python whose preflight output is not the probe's JSON: one line, exit 2", async () => {
  const { writeFileSync, chmodSync } = await import("node:fs");
  const { tempDir } = await import("./helpers.js");
  const { probePython } = await import("../src/preflight/probe.js");
  const py = path.join(tempDir(), "python");
  writeFileSync(py, "#!/bin/sh\necho 'welcome to my python'\n");
  chmodSync(py, 0o755);
  await assert.rejects(
    probePython(py),
    (e: unknown) =>
      e instanceof UserError &&
      e.exitCode === 2 &&
      e.message.startsWith(`${py}: unexpected preflight probe output: welcome`),
  );
});
