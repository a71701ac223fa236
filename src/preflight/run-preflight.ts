// All checks before any model load; the first failure is one line with its fix (exit code 2).
import type { RunConfig } from "../config/run-options.js";
import type { UserError } from "../errors.js";
import { probePython, type PythonFacts } from "./probe.js";
import { checkTorchCuda } from "./checks/torch-cuda.js";
import { checkVllmVersion } from "./checks/vllm-version.js";
import { checkTransformers } from "./checks/transformers.js";
import { checkGpuMemory } from "./checks/gpu-memory.js";
import { weightBytesFromConfigDir } from "./model-size.js";

export type ExtraCheck = (facts: PythonFacts) => Promise<UserError | null>;

export async function runPreflight(cfg: RunConfig, extra: ExtraCheck[] = []): Promise<PythonFacts> {
  const facts = await probePython(cfg.python);
  const onGpu = cfg.device === "cuda"; // --device cpu (hf engine) needs torch, not a GPU
  const checks: Array<() => UserError | null> = [
    ...(onGpu ? [() => checkTorchCuda(facts)] : []),
    ...(cfg.engine === "vllm" ? [() => checkVllmVersion(facts)] : [() => checkTransformers(facts)]),
    ...(onGpu
      ? [
          () =>
            checkGpuMemory(facts, {
              engine: cfg.engine,
              gpuMemoryUtilization: cfg.gpuMemoryUtilization,
              tensorParallelSize: cfg.tensorParallelSize,
              weightBytes: cfg.config ? weightBytesFromConfigDir(cfg.config) : null,
            }),
        ]
      : []),
  ];
  for (const check of checks) {
    const err = check();
    if (err) throw err;
  }
  for (const check of extra) {
    const err = await check(facts);
    if (err) throw err;
  }
  return facts;
}
