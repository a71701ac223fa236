// `moe-prof setup`: its options and help; the work is in index.ts, loaded when it runs.
import type { Command } from "commander";

export function defineSetup(program: Command): Command {
  return program
    .command("setup")
    .description(
      "Create ./.venv with the pinned vLLM 0.15.1 stack (requirements-lock.txt) and apply the moe-prof patch.",
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
