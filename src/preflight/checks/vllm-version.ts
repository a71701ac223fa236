import { envError } from "../../errors.js";
import type { PythonFacts } from "../probe.js";
import { VLLM_VERSION as REQUIRED_VLLM } from "../../patch/locate-vllm.js";

export function checkVllmVersion(f: PythonFacts): void {
  if (!f.vllm)
    throw envError(
      `vLLM is not installed for ${f.executable}: run \`moe-prof setup\`, or use --engine hf for transformers`,
    );
  if (f.vllm !== REQUIRED_VLLM)
    throw envError(
      `vLLM ${f.vllm} is installed for ${f.executable}, but moe-prof's patch is made for vLLM ${REQUIRED_VLLM}: run \`moe-prof setup\` (installs requirements-lock.txt into ./.venv)`,
    );
}
