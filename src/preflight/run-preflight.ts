// All checks before any model load, in order; the first that fails throws one line with its fix
// (a UserError, exit code 2).
import type { RunConfig } from "../config/run-options.js";
import { probePython, type PythonFacts } from "./probe.js";
import { checkTorchCuda } from "./checks/torch-cuda.js";
import { checkVllmVersion } from "./checks/vllm-version.js";
import { checkTransformers } from "./checks/transformers.js";
import { checkGpuMemory } from "./checks/gpu-memory.js";
import { checkPatchApplied } from "./checks/patch-applied.js";
import { weightBytesFromConfigDir } from "./model-size.js";
import { supportedList } from "../patch/vllm-versions.js";

export interface PreflightCheck {
  name: string;
  /** Whether the check concerns this run (e.g. no GPU checks for --device cpu). */
  applies: (cfg: RunConfig) => boolean;
  /** Returns when the check passes; throws a UserError naming the fix when it does not. */
  run: (facts: PythonFacts, cfg: RunConfig) => void | Promise<void>;
}

const onGpu = (cfg: RunConfig) => cfg.device === "cuda"; // --device cpu (hf engine) needs torch, not a GPU

export const PREFLIGHT_CHECKS: readonly PreflightCheck[] = [
  { name: "torch sees a CUDA GPU", applies: onGpu, run: checkTorchCuda },
  { name: `vLLM ${supportedList()} is installed`, applies: (cfg) => cfg.engine === "vllm", run: checkVllmVersion },
  {
    name: "transformers and torch are installed",
    applies: (cfg) => cfg.engine === "hf",
    run: checkTransformers,
  },
  {
    name: "enough free GPU memory",
    applies: onGpu,
    run: (f, cfg) =>
      checkGpuMemory(f, {
        engine: cfg.engine,
        gpuMemoryUtilization: cfg.gpuMemoryUtilization,
        tensorParallelSize: cfg.tensorParallelSize,
        weightBytes: cfg.config ? weightBytesFromConfigDir(cfg.config) : null,
      }),
  },
  {
    name: "the moe-prof patch is applied to vLLM",
    applies: (cfg) => cfg.engine === "vllm",
    run: checkPatchApplied,
  },
];

export async function runPreflight(cfg: RunConfig): Promise<PythonFacts> {
  const facts = await probePython(cfg.python);
  for (const check of PREFLIGHT_CHECKS) if (check.applies(cfg)) await check.run(facts, cfg);
  return facts;
}
