// `moe-prof setup`: ./.venv with requirements-lock.txt (vllm==0.15.1 and its pinned stack), then the patch.
import { existsSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { execa } from "execa";
import { envError } from "../errors.js";
import { packageRoot } from "../config/package-info.js";

async function has(cmd: string, args: string[]): Promise<boolean> {
  const r = await execa(cmd, args, { reject: false });
  return r.exitCode === 0;
}

async function step(title: string, cmd: string, args: string[]): Promise<void> {
  process.stderr.write(`moe-prof setup: ${title}\n  $ ${[cmd, ...args].join(" ")}\n`);
  const r = await execa(cmd, args, { stdio: "inherit", reject: false });
  if (r.exitCode !== 0) throw envError(`setup step failed (${title}): \`${cmd}\` exited with ${r.exitCode ?? r.signal}`);
}

export interface SetupOptions {
  venv: string;
  basePython: string;
}

export async function setupVenv(opts: SetupOptions): Promise<string> {
  const lock = path.join(packageRoot(), "requirements-lock.txt");
  const venvPython = path.join(opts.venv, "bin", "python");
  const useUv = await has("uv", ["--version"]);
  if (!existsSync(venvPython)) {
    if (useUv) await step("create virtualenv (uv)", "uv", ["venv", "--python", "3.12", opts.venv]);
    else {
      const v = await execa(opts.basePython, ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"], { reject: false });
      if (v.exitCode !== 0) throw envError(`${opts.basePython} not found: pass --base-python PATH to a Python 3.12`);
      if (String(v.stdout).trim() !== "3.12")
        throw envError(
          `${opts.basePython} is Python ${String(v.stdout).trim()}; requirements-lock.txt is resolved for Python 3.12: pass --base-python PATH (or install uv, which fetches 3.12)`,
        );
      await step("create virtualenv", opts.basePython, ["-m", "venv", opts.venv]);
    }
  }
  if (useUv) await step("install requirements-lock.txt (uv)", "uv", ["pip", "install", "--python", venvPython, "--require-hashes", "-r", lock]);
  else await step("install requirements-lock.txt", venvPython, ["-m", "pip", "install", "--require-hashes", "-r", lock]);
  return venvPython;
}

export function registerSetup(program: Command, applyPatch: (python: string) => Promise<void>): void {
  program
    .command("setup")
    .description("create ./.venv with the pinned vLLM 0.15.1 stack (requirements-lock.txt) and apply the moe-prof patch")
    .option("--venv <dir>", "virtualenv directory", ".venv")
    .option("--base-python <path>", "Python 3.12 used to create the virtualenv when uv is not installed", "python3.12")
    .action(async (o: { venv: string; basePython: string }) => {
      const python = await setupVenv({ venv: path.resolve(o.venv), basePython: o.basePython });
      await applyPatch(python);
      process.stderr.write(`moe-prof setup: ready. \`moe-prof run\` uses ${python}\n`);
    });
}
