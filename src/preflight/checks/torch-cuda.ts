import { envError } from "../../errors.js";
import { cpuRunCommand } from "../../config/cpu-run.js";
import type { PythonFacts } from "../probe.js";

export function checkTorchCuda(f: PythonFacts): void {
  if (!f.torch)
    throw envError(`torch is not installed for ${f.executable}: run \`moe-prof setup\` (or pass --python PATH)`);
  if (!f.cuda?.available || f.cuda.devices.length === 0) {
    const why = f.cuda?.error ? ` (${f.cuda.error})` : "";
    throw envError(
      `no CUDA GPU is visible to torch ${f.torch} in ${f.executable}${why}: vLLM and --device cuda need an NVIDIA GPU (check nvidia-smi and CUDA_VISIBLE_DEVICES); without one, run transformers on the CPU: ${cpuRunCommand()}`,
    );
  }
}
