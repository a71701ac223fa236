import { envError, type UserError } from "../../errors.js";
import type { PythonFacts } from "../probe.js";

export function checkTransformers(f: PythonFacts): UserError | null {
  if (!f.transformers) return envError(`transformers is not installed for ${f.executable}: --engine hf needs it (pip install transformers)`);
  if (!f.torch) return envError(`torch is not installed for ${f.executable}: --engine hf needs it (pip install torch)`);
  return null;
}
