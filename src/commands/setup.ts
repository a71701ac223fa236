// `moe-prof setup`: ./.venv with requirements-lock.txt (vllm==0.15.1 and its pinned stack), then the patch.
import { existsSync, readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Command } from "commander";
import { envError } from "../errors.js";
import { packageRoot } from "../config/package-info.js";

// execa is loaded when setup runs, not at start-up.
async function has(cmd: string, args: string[]): Promise<boolean> {
  const { execa } = await import("execa");
  const r = await execa(cmd, args, { reject: false });
  return r.exitCode === 0;
}

async function step(title: string, cmd: string, args: string[]): Promise<void> {
  process.stderr.write(`moe-prof setup: ${title}\n  $ ${[cmd, ...args].join(" ")}\n`);
  const { execa } = await import("execa");
  const r = await execa(cmd, args, { stdio: "inherit", reject: false });
  if (r.exitCode !== 0) throw envError(`setup step failed (${title}): \`${cmd}\` exited with ${r.exitCode ?? r.signal}`);
}

export interface SetupOptions {
  venv: string;
  /** Interpreter to make the venv from; default python3.12, else python3 if that is 3.12. */
  basePython?: string | undefined;
}

/** Where a Python 3.12 may be besides PATH: pyenv's versions (whose shims answer only for the
 * selected version) and the usual system locations. */
function localPython312Candidates(): string[] {
  const out: string[] = [];
  const pyenv = path.join(process.env.PYENV_ROOT ?? path.join(os.homedir(), ".pyenv"), "versions");
  try {
    for (const v of readdirSync(pyenv).filter((d) => /^3\.12(\.|$)/.test(d)).sort().reverse())
      out.push(path.join(pyenv, v, "bin", "python3.12"));
  } catch {
    /* no pyenv */
  }
  return [...out, "/usr/local/bin/python3.12", "/usr/bin/python3.12"];
}

/** requirements-lock.txt is resolved for CPython 3.12: find one (the given one must be 3.12). */
async function findPython312(given: string | undefined): Promise<{ found: string | null; seen: string[] }> {
  const seen: string[] = [];
  const candidates = given ? [given] : ["python3.12", "python3", ...localPython312Candidates()];
  const { execa } = await import("execa");
  for (const py of candidates) {
    const v = await execa(py, ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"], { reject: false, timeout: 30_000 });
    if (v.exitCode !== 0) {
      if (given || !localPython312Candidates().includes(py)) seen.push(`${py}: not usable`);
      continue;
    }
    const ver = String(v.stdout).trim();
    if (ver === "3.12") return { found: py, seen };
    seen.push(`${py}: Python ${ver}`);
  }
  return { found: null, seen };
}

export async function setupVenv(opts: SetupOptions): Promise<string> {
  const lock = path.join(packageRoot(), "requirements-lock.txt");
  const venvPython = path.join(opts.venv, "bin", "python");
  const useUv = await has("uv", ["--version"]);
  if (existsSync(venvPython)) {
    process.stderr.write(`moe-prof setup: reusing ${opts.venv} (delete it for a fresh one)\n`);
  } else {
    const { found, seen } = await findPython312(opts.basePython);
    if (opts.basePython && !found)
      throw envError(`--base-python ${opts.basePython} is not a Python 3.12 (${seen.join("; ")}); requirements-lock.txt is resolved for 3.12`);
    if (found && useUv) await step("create virtualenv (uv)", "uv", ["venv", "--python", found, opts.venv]);
    else if (found) await step("create virtualenv", found, ["-m", "venv", opts.venv]);
    else if (useUv) await step("create virtualenv (uv fetches Python 3.12)", "uv", ["venv", "--python", "3.12", opts.venv]);
    else
      throw envError(
        `requirements-lock.txt is resolved for Python 3.12 and none was found (${seen.join("; ")}): pass --base-python PATH, or install uv (it fetches 3.12 when it has network)`,
      );
  }
  if (useUv) await step("install requirements-lock.txt (uv)", "uv", ["pip", "install", "--python", venvPython, "--require-hashes", "-r", lock]);
  else await step("install requirements-lock.txt", venvPython, ["-m", "pip", "install", "--require-hashes", "-r", lock]);
  return venvPython;
}

export function registerSetup(program: Command, applyPatch: (python: string) => Promise<void>): void {
  program
    .command("setup")
    .description("Create ./.venv with the pinned vLLM 0.15.1 stack (requirements-lock.txt) and apply the moe-prof patch.")
    .option("--venv <dir>", "virtualenv directory", ".venv")
    .option("--base-python <path>", "Python 3.12 to create the virtualenv from, with or without uv (default: python3.12, python3, pyenv's 3.12)")
    .action(async (o: { venv: string; basePython?: string }) => {
      const python = await setupVenv({ venv: path.resolve(o.venv), basePython: o.basePython });
      await applyPatch(python);
      process.stderr.write(`moe-prof setup: ready. \`moe-prof run\` uses ${python}\n`);
    });
}
