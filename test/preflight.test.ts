import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { checkTorchCuda } from "../src/preflight/checks/torch-cuda.js";
import { checkVllmVersion } from "../src/preflight/checks/vllm-version.js";
import { checkTransformers } from "../src/preflight/checks/transformers.js";
import { checkGpuMemory } from "../src/preflight/checks/gpu-memory.js";
import { estimateParams, weightBytesFromConfigDir } from "../src/preflight/model-size.js";
import { pythonFacts, type PythonFacts } from "../src/preflight/probe.js";
import { packageRoot } from "../src/config/package-info.js";
import { UserError } from "../src/errors.js";
import { PREFLIGHT_CHECKS } from "../src/preflight/run-preflight.js";
import type { RunConfig } from "../src/config/run-options.js";

const GiB = 1024 ** 3;
const h100: PythonFacts = pythonFacts.parse(
  JSON.parse(readFileSync(path.join(packageRoot(), "fixtures/recorded/hf-smoke-h100/preflight.json"), "utf8")),
);
const facts = (over: Partial<PythonFacts>): PythonFacts => ({ ...h100, ...over });
/** The message of the UserError (exit 2) that a failing check throws. */
const msg = (check: () => void) => {
  try {
    check();
  } catch (e) {
    assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
    assert.equal(e.exitCode, 2);
    return e.message;
  }
  assert.fail("expected a failure");
};

test("the facts recorded on the H100 pass the hf checks", () => {
  assert.doesNotThrow(() => checkTorchCuda(h100));
  assert.doesNotThrow(() => checkTransformers(h100));
  assert.doesNotThrow(() =>
    checkGpuMemory(h100, { engine: "hf", gpuMemoryUtilization: 0.9, tensorParallelSize: 1, weightBytes: 28.6e9 }),
  );
});

test("no torch, no GPU: each one line with the fix", () => {
  assert.match(
    msg(() => checkTorchCuda(facts({ torch: null }))),
    /^torch is not installed for .*python3: run `moe-prof setup`/,
  );
  assert.match(
    msg(() => checkTorchCuda(facts({ cuda: { available: false, devices: [] } }))),
    /^no CUDA GPU is visible to torch 2\.11\.0 in .*: vLLM and --device cuda need an NVIDIA GPU \(check nvidia-smi and CUDA_VISIBLE_DEVICES\); without one, run transformers on the CPU: moe-prof run --engine hf --device cpu --random-weights --config fixtures\/models\/tiny-qwen2-moe --tokenizer fixtures\/models\/qwen1\.5-moe-a2\.7b --num-prompts 4 --max-tokens 12$/,
  );
});

test("vLLM missing or another version: names both versions and the fix", () => {
  assert.match(
    msg(() => checkVllmVersion(h100)),
    /^vLLM is not installed for .*: run `moe-prof setup`, or use --engine hf/,
  );
  assert.match(
    msg(() => checkVllmVersion(facts({ vllm: "0.16.0" }))),
    /^vLLM 0\.16\.0 is installed for .*, but moe-prof supports vLLM 0\.15\.1 or 0\.20\.2 only: run `moe-prof setup --vllm VERSION`/,
  );
  assert.doesNotThrow(() => checkVllmVersion(facts({ vllm: "0.15.1" })));
  assert.doesNotThrow(() => checkVllmVersion(facts({ vllm: "0.20.2" })));
});

test("GPU memory: vLLM needs utilization x total free; hf the weights plus room", () => {
  const busy = facts({
    cuda: { available: true, devices: [{ index: 0, name: "H100", free_bytes: 40 * GiB, total_bytes: 80 * GiB }] },
  });
  assert.match(
    msg(() =>
      checkGpuMemory(busy, { engine: "vllm", gpuMemoryUtilization: 0.9, tensorParallelSize: 1, weightBytes: null }),
    ),
    /^GPU 0 \(H100\) has 40\.0 GiB free of 80\.0 GiB; vLLM needs 72\.0 GiB for --gpu-memory-utilization 0\.9: free the GPU or lower/,
  );
  assert.doesNotThrow(() =>
    checkGpuMemory(busy, { engine: "vllm", gpuMemoryUtilization: 0.45, tensorParallelSize: 1, weightBytes: null }),
  );
  assert.match(
    msg(() =>
      checkGpuMemory(busy, { engine: "hf", gpuMemoryUtilization: 0.9, tensorParallelSize: 1, weightBytes: 40 * GiB }),
    ),
    /needs about 48\.0 GiB/,
  );
  assert.match(
    msg(() =>
      checkGpuMemory(busy, { engine: "vllm", gpuMemoryUtilization: 0.5, tensorParallelSize: 2, weightBytes: null }),
    ),
    /needs 2 GPUs; torch sees 1/,
  );
});

test("Qwen1.5-MoE-A2.7B's config has 14.3B parameters (its model card's figure)", () => {
  const dir = path.join(packageRoot(), "fixtures/models/qwen1.5-moe-a2.7b");
  const n = estimateParams(JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8")));
  assert.equal((n / 1e9).toFixed(1), "14.3");
  assert.equal(weightBytesFromConfigDir(dir), n * 2);
  assert.equal(weightBytesFromConfigDir("/nonexistent"), null);
});

test("preflight: which named checks a run gets, in order (vLLM on a GPU: all; hf on the CPU: transformers only)", () => {
  const names = (cfg: Partial<RunConfig>) =>
    PREFLIGHT_CHECKS.filter((c) => c.applies(cfg as RunConfig)).map((c) => c.name);
  assert.deepEqual(names({ engine: "vllm", device: "cuda" }), [
    "torch sees a CUDA GPU",
    "vLLM 0.15.1 or 0.20.2 is installed",
    "enough free GPU memory",
    "the moe-prof patch is applied to vLLM",
  ]);
  assert.deepEqual(names({ engine: "hf", device: "cuda" }), [
    "torch sees a CUDA GPU",
    "transformers and torch are installed",
    "enough free GPU memory",
  ]);
  assert.deepEqual(names({ engine: "hf", device: "cpu" }), ["transformers and torch are installed"]);
});

test("README's first lines give a CPU-only user the same command as the no-GPU message", async () => {
  const { readFileSync } = await import("node:fs");
  const { cpuRunCommand } = await import("../src/config/cpu-run.js");
  const { ROOT } = await import("./helpers.js");
  const readme = readFileSync(`${ROOT}/README.md`, "utf8");
  const cwd = process.cwd();
  process.chdir(ROOT); // the paths as typed in a fresh clone
  try {
    assert.ok(readme.split("\n## run")[0]!.includes(`\nnpx ${cpuRunCommand()}\n`), cpuRunCommand());
  } finally {
    process.chdir(cwd);
  }
});
