#!/usr/bin/env node
// commander wiring only: each command's options, and the one function that runs it.
import { Command, CommanderError } from "commander";
import { readPackageVersion } from "./config/package-info.js";
import { UserError, EXIT_ENV, fsProblem } from "./errors.js";
import { defineRun } from "./commands/run/options.js";
import { defineHist } from "./commands/hist/options.js";
import { defineValidate } from "./commands/validate/options.js";
import { defineCache } from "./commands/cache/options.js";
import { definePlace } from "./commands/place/options.js";
import { defineExport } from "./commands/export/options.js";
import { defineCompare } from "./commands/compare/options.js";
import { definePatch } from "./commands/patch/options.js";
import { defineSetup } from "./commands/setup/options.js";
import { defineServe } from "./commands/serve/options.js";
import { defineImport } from "./commands/import/options.js";
// Types only (erased): the modules themselves are loaded when their command runs.
import type { runCommand } from "./commands/run/index.js";
import type { histCommand } from "./commands/hist/index.js";
import type { validateCommand } from "./commands/validate/index.js";
import type { cacheCommand } from "./commands/cache/index.js";
import type { placeCommand } from "./commands/place/index.js";
import type { exportCommand } from "./commands/export/index.js";
import type { compareCommand } from "./commands/compare/index.js";
import type { patchCommand } from "./commands/patch/index.js";
import type { setupCommand } from "./commands/setup/index.js";
import type { serveCommand } from "./commands/serve/index.js";
import type { importCommand } from "./commands/import/index.js";

// A reader that stops early (`moe-prof --help | head`) closes the pipe: end quietly, as `head`'s
// other writers do, instead of Node's unhandled-error stack trace.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

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
  moe-prof setup --vllm 0.20.2       ./.venv with vLLM 0.20.2 (torch 2.11, CUDA 13), patched
  moe-prof run                       no-log + log pass over 25 GSM8K prompts -> ./moe-prof-out/<timestamp>/
  moe-prof hist out/moe_routes.jsonl analyse and plot an existing routes log
  moe-prof serve                     vllm serve, capture off and on, under a streaming load: TTFT/ITL cost
Exit codes: 0 ok; 1 invalid input or a failed check; 2 usage or environment; 130 interrupted.
Each command has --help.`,
  )
  .exitOverride();

// Each command: its options (commands/<name>/options.ts, light) and the one function that does
// its work (commands/<name>/index.ts), loaded only when the command runs, so that --version and
// --help load commander and little else (test/startup.test.ts).
defineRun(program).action(async (...a: Parameters<typeof runCommand>) =>
  (await import("./commands/run/index.js")).runCommand(...a),
);
defineHist(program).action(async (...a: Parameters<typeof histCommand>) =>
  (await import("./commands/hist/index.js")).histCommand(...a),
);
defineValidate(program).action(async (...a: Parameters<typeof validateCommand>) =>
  (await import("./commands/validate/index.js")).validateCommand(...a),
);
defineCache(program).action(async (...a: Parameters<typeof cacheCommand>) =>
  (await import("./commands/cache/index.js")).cacheCommand(...a),
);
definePlace(program).action(async (...a: Parameters<typeof placeCommand>) =>
  (await import("./commands/place/index.js")).placeCommand(...a),
);
defineExport(program).action(async (...a: Parameters<typeof exportCommand>) =>
  (await import("./commands/export/index.js")).exportCommand(...a),
);
defineCompare(program).action(async (...a: Parameters<typeof compareCommand>) =>
  (await import("./commands/compare/index.js")).compareCommand(...a),
);
definePatch(program).action(async (...a: Parameters<typeof patchCommand>) =>
  (await import("./commands/patch/index.js")).patchCommand(...a),
);
defineSetup(program).action(async (...a: Parameters<typeof setupCommand>) =>
  (await import("./commands/setup/index.js")).setupCommand(...a),
);
defineServe(program).action(async (...a: Parameters<typeof serveCommand>) =>
  (await import("./commands/serve/index.js")).serveCommand(...a),
);
defineImport(program).action(async (...a: Parameters<typeof importCommand>) =>
  (await import("./commands/import/index.js")).importCommand(...a),
);

// commander's own errors (unknown option, missing argument, bad choice) read like ours: one line,
// `moe-prof:` first, and where to look: "moe-prof: unknown option '--foo' (see `moe-prof run --help`)".
for (const cmd of [program, ...program.commands]) {
  const where = cmd === program ? "moe-prof --help" : `moe-prof ${cmd.name()} --help`;
  cmd.configureOutput({
    outputError: (str, write) =>
      write(
        `moe-prof: ${str
          .trim()
          .replace(/^error: /, "")
          .replace(/\n\(Did you mean (.*)\)$/, "; did you mean $1")
          .replace(/\n+/g, " ")} (see \`${where}\`)\n`,
      ),
  });
}
// --pretty shapes --json's output: alone it would be silently ignored.
program.hook("preAction", (_program, command) => {
  const o = command.opts<{ json?: boolean; pretty?: boolean }>();
  if (o.pretty && !o.json) throw new UserError("--pretty: only with --json", EXIT_ENV);
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
    process.stderr.write(`moe-prof: ${err.path ? `${err.path}: ` : ""}cannot ${err.syscall}: ${fsProblem(err)}\n`);
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
