// The real vllm==0.15.1 (and 0.20.2) wheel's files (dist-info + the sources the patch touches) as an
// installed-looking site-packages, found through a real Python's importlib.metadata.
import { execFileSync } from "node:child_process";
import { chmod, cp, readFile, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { ROOT, tempDir } from "./helpers.js";

/** A release's wheel files: from .ci/run (envVar), else fetched here once (cached in
 * ~/.cache/moe-prof). `skip` says why a test cannot run without them. */
function wheelFiles(version: string, envVar: string): { files: string | undefined; skip: string | false } {
  const given = process.env[envVar];
  if (given) return { files: given, skip: false };
  try {
    const files = execFileSync("python3", [path.join(ROOT, "scripts", "vllm-wheel-files.py"), "--vllm", version], {
      encoding: "utf8",
      timeout: 900_000,
    }).trim();
    return { files, skip: false };
  } catch (err) {
    const why =
      String((err as { stderr?: string }).stderr || err)
        .trim()
        .split("\n")
        .pop() ?? "";
    return { files: undefined, skip: `the vllm==${version} wheel could not be fetched (offline?): ${why}` };
  }
}

const w0151 = wheelFiles("0.15.1", "MOE_PROF_VLLM_FILES");
export const FILES = w0151.files;
export const skipWithoutWheel = w0151.skip;
export const PATCH = path.join(ROOT, "patches", "vllm-v0.15.1-moe-logger.patch");

const w0202 = wheelFiles("0.20.2", "MOE_PROF_VLLM_FILES_0_20_2");
export const FILES_0_20_2 = w0202.files;
export const skipWithoutWheel0202 = w0202.skip;
export const PATCH_0_20_2 = path.join(ROOT, "patches", "vllm-v0.20.2-moe-logger.patch");

/** A fresh copy of the wheel's files and an interpreter that sees them first, as a venv's python does. */
export async function site(files: string = FILES!): Promise<{ dir: string; python: string }> {
  const base = tempDir();
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
