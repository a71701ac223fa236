import { envError, type UserError } from "../../errors.js";
import type { PythonFacts } from "../probe.js";

export function checkTorchCuda(f: PythonFacts): UserError | null {
  if (!f.torch) return envError(`torch is not installed for ${f.executable}: run \`moe-prof setup\` (or pass --python PATH)`);
  if (!f.cuda?.available || f.cuda.devices.length === 0) {
    const why = f.cuda?.error ? ` (${f.cuda.error})` : "";
    return envError(
      `no CUDA GPU is visible to torch ${f.torch} in ${f.executable}${why}: moe-prof run needs an NVIDIA GPU; check nvidia-smi and CUDA_VISIBLE_DEVICES`,
    );
  }
  return null;
}
