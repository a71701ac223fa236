// `moe-prof patch apply|check|revert [--python PATH]`
import { EXIT_ENV, EXIT_INVALID, EXIT_OK } from "../../errors.js";
import { defaultPython } from "../../config/python.js";

export type PatchAction = "apply" | "check" | "revert";

/** Runs one action and returns the exit code; messages go to stdout, errors are thrown as UserError. */
export async function runPatch(
  action: PatchAction,
  python: string | undefined,
  out: (line: string) => void,
): Promise<number> {
  // Loaded here: locate-vllm runs Python through execa, which start-up need not load.
  const { locateVllm } = await import("../../patch/locate-vllm.js");
  const { applyPatch, inspectPatch, loadPatch, revertPatch } = await import("../../patch/vllm-patch.js");
  const install = await locateVllm(python ?? defaultPython());
  const patches = await loadPatch(install.supported);
  const where = `vLLM ${install.version} in ${install.root}`;
  if (action === "apply") {
    const r = await applyPatch(install.root, patches);
    r.notes.forEach((n) => out(n));
    out(r.result === "applied" ? `patched ${where}` : `already patched: ${where}`);
    return EXIT_OK;
  }
  if (action === "revert") {
    const r = await revertPatch(install.root, patches);
    r.notes.forEach((n) => out(n));
    out(
      r.result === "reverted" ? `reverted ${where} to its original files` : `not patched, nothing to revert: ${where}`,
    );
    return EXIT_OK;
  }
  const { state, files, notes } = await inspectPatch(install.root, patches);
  notes.forEach((n) => out(n));
  if (state === "applied") {
    out(`applied: ${where}`);
    return EXIT_OK;
  }
  if (state === "not-applied") {
    out(`not applied: ${where} (run \`moe-prof patch apply\`)`);
    return EXIT_INVALID;
  }
  if (state === "other-version") {
    out(
      `not applied: ${where} carries the patch of another moe-prof version (run \`moe-prof patch apply\` to replace it)`,
    );
    return EXIT_INVALID;
  }
  if (state === "partial") {
    const patched = files.filter((f) => f.state === "patched").map((f) => f.path);
    out(
      `partly applied: ${where}: only ${patched.join(", ")} patched (an older moe-prof was interrupted): run \`moe-prof patch apply\` or \`moe-prof patch revert\` to finish`,
    );
    return EXIT_ENV;
  }
  const detail = files
    .filter((f) => f.state !== "patched")
    .map((f) => `${f.path} (${f.state === "pristine" ? "not patched" : "changed by something else"})`);
  out(`conflicting: ${where}: ${detail.join(", ")}`);
  return EXIT_ENV;
}

/** `moe-prof patch`: what the command does once commander has parsed it (cli.ts). */
export async function patchCommand(action: PatchAction, opts: { python?: string }): Promise<void> {
  process.exitCode = await runPatch(action, opts.python, (l) => process.stdout.write(l + "\n"));
}
