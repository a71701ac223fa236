// `moe-prof setup`: its options and help; the work is in index.ts, loaded when it runs.
import type { Command } from "commander";
import { DEFAULT_VLLM_VERSION, SUPPORTED_VLLM } from "../../patch/vllm-versions.js";

export function defineSetup(program: Command): Command {
  return program
    .command("setup")
    .description(
      `Create ./.venv with a pinned vLLM stack (default vLLM ${DEFAULT_VLLM_VERSION}, requirements-lock.txt) and apply the moe-prof patch.`,
    )
    .option(
      "--vllm <version>",
      "the vLLM release: " + SUPPORTED_VLLM.map((s) => `${s.version} (${s.stack}, ${s.lockFile})`).join("; "),
      DEFAULT_VLLM_VERSION,
    )
    .option(
      "--venv <dir>",
      "virtualenv directory; an existing one (Python 3.12) is reused: the lock installed into it, the patch applied",
      ".venv",
    )
    .option(
      "--base-python <path>",
      "Python 3.12 to create the virtualenv from, with or without uv (default: python3.12, python3, then pyenv's, uv's, asdf's, conda's 3.12)",
    );
}
