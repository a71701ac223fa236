// The real vllm==0.15.1 wheel's files (dist-info + the sources the patch touches) as an
// installed-looking site-packages, found through a real Python's importlib.metadata.
import { execFileSync } from "node:child_process";
import { chmod, cp, mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { ROOT } from "./helpers.js";

// From .ci/run (MOE_PROF_VLLM_FILES), else fetched here once (cached in ~/.cache/moe-prof).
let files = process.env.MOE_PROF_VLLM_FILES;
let fetchError = "";
if (!files) {
  try {
    files = execFileSync("python3", [path.join(ROOT, "scripts", "vllm-wheel-files.py")], {
      encoding: "utf8",
      timeout: 900_000,
    }).trim();
  } catch (err) {
    fetchError =
      String((err as { stderr?: string }).stderr || err)
        .trim()
        .split("\n")
        .pop() ?? "";
  }
}
export const FILES = files;
export const skipWithoutWheel = FILES ? false : `the vllm==0.15.1 wheel could not be fetched (offline?): ${fetchError}`;
export const PATCH = path.join(ROOT, "patches", "vllm-v0.15.1-moe-logger.patch");

// vLLM 0.20.2's wheel files, the same way (MOE_PROF_VLLM_FILES_0_20_2 from .ci/run).
let files0202 = process.env.MOE_PROF_VLLM_FILES_0_20_2;
let fetchError0202 = "";
if (!files0202) {
  try {
    files0202 = execFileSync("python3", [path.join(ROOT, "scripts", "vllm-wheel-files.py"), "--vllm", "0.20.2"], {
      encoding: "utf8",
      timeout: 900_000,
    }).trim();
  } catch (err) {
    fetchError0202 =
      String((err as { stderr?: string }).stderr || err)
        .trim()
        .split("\n")
        .pop() ?? "";
  }
}
export const FILES_0_20_2 = files0202;
export const skipWithoutWheel0202 = FILES_0_20_2
  ? false
  : `the vllm==0.20.2 wheel could not be fetched (offline?): ${fetchError0202}`;
export const PATCH_0_20_2 = path.join(ROOT, "patches", "vllm-v0.20.2-moe-logger.patch");

/** A fresh copy of the wheel's files and an interpreter that sees them first, as a venv's python does. */
export async function site(files: string = FILES!): Promise<{ dir: string; python: string }> {
  const base = await mkdtemp(path.join(tmpdir(), "moe-prof-patch-"));
  const dir = path.join(base, "site-packages");
  await cp(files, dir, { recursive: true });
  const python = path.join(base, "python");
  await writeFile(python, `#!/bin/sh\nPYTHONPATH='${dir}' exec python3 "$@"\n`);
  await chmod(python, 0o755);
  return { dir, python };
}

/** Every file under dir (relative path -> bytes as latin1). */
export async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) {
      const p = path.join(e.parentPath, e.name);
      out.set(path.relative(dir, p), await readFile(p, "latin1"));
    }
  }
  return out;
}
