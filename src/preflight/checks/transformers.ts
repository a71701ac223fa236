import { envError } from "../../errors.js";
import type { PythonFacts } from "../probe.js";

export function checkTransformers(f: PythonFacts): void {
  if (!f.transformers)
    throw envError(
      `transformers is not installed for ${f.executable}: --engine hf needs it (pip install transformers)`,
    );
  if (!f.torch) throw envError(`torch is not installed for ${f.executable}: --engine hf needs it (pip install torch)`);
}
