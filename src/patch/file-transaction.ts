// All-or-nothing file updates: every new content is written beside its target first, then the
// renames; on any failure, everything already renamed is put back, so vLLM is never half-patched.
import { mkdir, readFile, rename, rm, rmdir, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { envError } from "../errors.js";

export interface FileChange {
  file: string; // absolute
  content: string | null; // null: delete
}

const TMP_SUFFIX = ".moe-prof-tmp";

export function writeFailure(root: string, err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  if (e.code === "EACCES" || e.code === "EPERM" || e.code === "EROFS") {
    return envError(`cannot write to ${root} (${e.code}: read-only site-packages?): run as a user who owns that vLLM install, or use a virtualenv`);
  }
  return err instanceof Error ? err : new Error(String(err));
}

async function readOrNull(file: string): Promise<string | null> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** Creates missing parent directories, recording the ones it created (outermost first). */
async function ensureDir(dir: string, created: string[]): Promise<void> {
  const missing: string[] = [];
  for (let d = dir; !(await exists(d)); d = path.dirname(d)) {
    missing.unshift(d);
    if (path.dirname(d) === d) break;
  }
  for (const m of missing) {
    await mkdir(m);
    created.push(m);
  }
}

export async function commitChanges(root: string, changes: FileChange[]): Promise<void> {
  const created: string[] = [];
  const staged: FileChange[] = [];
  const done: { file: string; before: string | null }[] = [];
  try {
    for (const c of changes) {
      if (c.content === null) continue;
      await ensureDir(path.dirname(c.file), created);
      await writeFile(c.file + TMP_SUFFIX, c.content, "utf8");
      staged.push(c);
    }
    for (const c of changes) {
      const before = await readOrNull(c.file);
      if (c.content === null) {
        if (before !== null) await rm(c.file);
      } else {
        await rename(c.file + TMP_SUFFIX, c.file);
      }
      done.push({ file: c.file, before });
    }
  } catch (err) {
    for (const d of done.reverse()) {
      try {
        if (d.before === null) await rm(d.file, { force: true });
        else await writeFile(d.file, d.before, "utf8");
      } catch {
        /* best effort: the original error below is what the user must see */
      }
    }
    for (const c of staged) await rm(c.file + TMP_SUFFIX, { force: true }).catch(() => undefined);
    for (const dir of created.reverse()) await rmdir(dir).catch(() => undefined);
    throw writeFailure(root, err);
  }
}
