// `moe-prof patch`: its options and help; the work is in index.ts, loaded when it runs.
import { Argument, Option, type Command } from "commander";

export function definePatch(program: Command): Command {
  return program
    .command("patch")
    .description(
      "Apply, check or revert the VLLM_LOG_MOE patch in the vLLM install (0.15.1 or 0.20.2) of a Python interpreter " +
        "(check exits 0 applied, 1 not applied or another moe-prof version's patch, 2 conflicting or partly applied).",
    )
    .addArgument(new Argument("<action>", "apply | check | revert").choices(["apply", "check", "revert"]))
    .addOption(
      new Option(
        "--python <path>",
        "Python interpreter whose vLLM to patch (default: ./.venv/bin/python, else python3)",
      ),
    );
}
