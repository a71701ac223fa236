#!/usr/bin/env node
// commander wiring only: each command lives in src/commands and returns an exit code.
import { Command, CommanderError } from "commander";
import { readPackageVersion } from "./config/package-info.js";
import { UserError, EXIT_ENV } from "./errors.js";
import { registerValidate } from "./commands/validate.js";
import { registerHist } from "./commands/hist.js";
import { registerRun } from "./commands/run.js";
import { registerPatch, runPatch } from "./commands/patch.js";
import { registerSetup } from "./commands/setup.js";
import { registerCache } from "./commands/cache.js";
import { registerPlace } from "./commands/place.js";
import { registerExport } from "./commands/export.js";
import { registerCompare } from "./commands/compare.js";

const program = new Command();
program
  .name("moe-prof")
  .description("Profile Mixture-of-Experts routing: capture it inside vLLM, validate, analyse and plot it.")
  .version(readPackageVersion())
  .addHelpText(
    "after",
    `
Typical use:
  moe-prof setup                     ./.venv with vLLM 0.15.1 (requirements-lock.txt), patched
  moe-prof run                       no-log + log pass over 25 GSM8K prompts -> ./moe-prof-out/<timestamp>/
  moe-prof hist out/moe_routes.jsonl analyse and plot an existing routes log
Exit codes: 0 ok; 1 invalid input or a failed check; 2 usage or environment; 130 interrupted.
Each command has --help.`,
  )
  .exitOverride()
  .configureOutput({ outputError: (str, write) => write(str) });

// Commands register here (one line each).
// Every command module is light: what a command needs (zod, execa, vega, canvas, undici) is
// loaded in its action, so --version and --help load commander and little else.
registerRun(program, { vllmChecks: [async (facts) => (await import("./preflight/checks/patch-applied.js")).checkPatchApplied(facts)] });
registerHist(program);
registerValidate(program);
registerCache(program);
registerPlace(program);
registerExport(program);
registerCompare(program);
registerPatch(program);
registerSetup(program, async (python) => {
  await runPatch("apply", python, (line) => process.stderr.write(`moe-prof setup: ${line}\n`));
});

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version exit through here with code 0; usage errors get EXIT_ENV.
    process.exitCode = err.exitCode === 0 ? 0 : EXIT_ENV;
  } else if (err instanceof UserError) {
    process.stderr.write(`moe-prof: ${err.message}\n`);
    process.exitCode = err.exitCode;
  } else if (isSystemError(err)) {
    // A file or directory the command could not use, not caught closer to where it happened:
    // still the environment (exit 2) and still one line.
    process.stderr.write(`moe-prof: ${err.path ? `${err.path}: ` : ""}cannot ${err.syscall}: ${err.code}\n`);
    process.exitCode = EXIT_ENV;
  } else {
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`moe-prof: internal error: ${msg}\n`);
    process.exitCode = 70;
  }
}

function isSystemError(err: unknown): err is NodeJS.ErrnoException & { syscall: string; code: string } {
  const e = err as NodeJS.ErrnoException;
  return typeof e?.syscall === "string" && typeof e.code === "string" && /^E[A-Z0-9]+$/.test(e.code);
}
