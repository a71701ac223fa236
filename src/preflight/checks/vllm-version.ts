import { envError } from "../../errors.js";
import type { PythonFacts } from "../probe.js";
import { unsupportedVllm } from "../../patch/locate-vllm.js";
import { supportedVllm } from "../../patch/vllm-versions.js";

export function checkVllmVersion(f: PythonFacts): void {
  if (!f.vllm)
    throw envError(
      `vLLM is not installed for ${f.executable}: run \`moe-prof setup\`, or use --engine hf for transformers`,
    );
  if (!supportedVllm(f.vllm)) throw envError(unsupportedVllm(f.vllm, f.executable));
}
