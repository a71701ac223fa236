// Crash-consistent changes to several files of a vLLM install, as a journaled transaction:
//   1. journal, phase "staging": the directories to make, every temp name, every step to take;
//   2. directories made, each new content written to a temp file beside its target (mode and
//      owner copied, fsynced);
//   3. journal rewritten with phase "committed": the commit point;
//   4. renames, deletes and tree removals in order; then the journal is removed.
// A process killed anywhere leaves the journal behind. Whoever holds the lock next calls
// `recoverInterrupted`: a "staging" journal is rolled back (nothing visible had changed yet: its
// temps and directories go), a "committed" one forward (every temp exists and is fsynced, and
// every step can be repeated). The caller holds the patch lock (lock.ts) throughout.
import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readFile, readdir, rename, rm, rmdir, stat, type FileHandle } from "node:fs/promises";
import type { Stats } from "node:fs";
import path from "node:path";
import { envError } from "../errors.js";
import { stepDone } from "../fault-injection.js";

export const JOURNAL_FILE = ".moe-prof-vllm-journal.json";
const TMP_MARK = ".moe-prof-tmp";

/** One change, paths relative to the install root (the directory holding vllm/). */
export type Change =
  /** New content; mode and owner are copied from `attrsFrom` (absolute), else left to the umask. */
  | { kind: "write"; path: string; content: string; attrsFrom?: string }
  | { kind: "delete"; path: string }
  /** A directory and everything in it (e.g. the package the patch added, with Python's bytecode). */
  | { kind: "rmtree"; path: string };

type Op =
  | { op: "write"; path: string; tmp: string; sha256: string }
  | { op: "delete"; path: string }
  | { op: "rmtree"; path: string };

interface Journal {
  moe_prof_patch_journal: 1;
  action: string;
  txid: string;
  phase: "staging" | "committed";
  /** Directories that did not exist when the transaction was planned, outermost first. */
  made_dirs: string[];
  ops: Op[];
}

export function newTxid(): string {
  return `${process.pid}-${randomBytes(4).toString("hex")}`;
}

const sha256 = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");

export function writeFailure(root: string, err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  if (e.code === "EACCES" || e.code === "EPERM" || e.code === "EROFS") {
    return envError(
      `cannot write to ${root} (${e.code}: read-only site-packages?): run as a user who owns that vLLM install, or use a virtualenv`,
    );
  }
  return err instanceof Error ? err : new Error(String(err));
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** rm that treats "not there" (including a path through a file) as done. */
async function rmIfThere(p: string, recursive = false): Promise<void> {
  try {
    await rm(p, { force: true, recursive });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOTDIR") throw err;
  }
}

async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, "r");
    await fh.sync();
  } catch {
    /* directories that cannot be opened or fsynced (some filesystems): the renames still happened */
  } finally {
    await fh?.close();
  }
}

/** Copies mode and owner; an owner that cannot be given (not root) is reported, not fatal. */
async function copyAttrs(fh: FileHandle, from: Stats, target: string, warn: (w: string) => void): Promise<void> {
  await fh.chmod(from.mode & 0o7777);
  const st = await fh.stat();
  if (st.uid === from.uid && st.gid === from.gid) return;
  try {
    await fh.chown(from.uid, from.gid);
  } catch (err) {
    warn(
      `${target}: could not keep owner ${from.uid}:${from.gid} (${(err as NodeJS.ErrnoException).code}); it is now ${st.uid}:${st.gid}`,
    );
  }
}

async function writeDurably(file: string, data: string, flag: string): Promise<FileHandle> {
  const fh = await open(file, flag, 0o644);
  await fh.writeFile(data, "utf8");
  await fh.sync();
  return fh;
}

async function writeJournal(root: string, j: Journal): Promise<void> {
  const file = path.join(root, JOURNAL_FILE);
  const tmp = `${file}.${j.txid}${TMP_MARK}`;
  await (await writeDurably(tmp, JSON.stringify(j, null, 1) + "\n", "w")).close();
  await rename(tmp, file);
  await syncDir(root);
  stepDone(`journal ${j.phase}`);
}

async function removeJournal(root: string): Promise<void> {
  await rm(path.join(root, JOURNAL_FILE), { force: true });
  await syncDir(root);
  stepDone("journal removed");
}

/** The directories `file`'s parent needs that do not exist yet, outermost first. */
async function missingDirs(root: string, rel: string): Promise<string[]> {
  const out: string[] = [];
  for (let d = path.dirname(rel); d !== "." && d !== "/" && !(await exists(path.join(root, d))); d = path.dirname(d))
    out.unshift(d);
  return out;
}

/**
 * Runs the changes as one transaction. Returns warnings (owners that could not be kept).
 * On an error before the commit point everything is rolled back; after it, rolled forward.
 */
export async function runTransaction(root: string, action: string, txid: string, changes: Change[]): Promise<string[]> {
  const warnings: string[] = [];
  const made: string[] = [];
  for (const c of changes)
    if (c.kind === "write") for (const d of await missingDirs(root, c.path)) if (!made.includes(d)) made.push(d);
  const ops: Op[] = changes.map((c) =>
    c.kind === "write"
      ? { op: "write", path: c.path, tmp: `${c.path}${TMP_MARK}-${txid}`, sha256: sha256(c.content) }
      : { op: c.kind, path: c.path },
  );
  const journal: Journal = { moe_prof_patch_journal: 1, action, txid, phase: "staging", made_dirs: made, ops };
  try {
    await writeJournal(root, journal);
    for (const d of made) {
      const abs = path.join(root, d);
      await mkdir(abs);
      const parent = await stat(path.dirname(abs));
      const fh = await open(abs, "r");
      try {
        await copyAttrs(fh, parent, abs, (w) => warnings.push(w));
      } finally {
        await fh.close();
      }
      stepDone(`mkdir ${d}`);
    }
    for (const [i, c] of changes.entries()) {
      if (c.kind !== "write") continue;
      const tmp = path.join(root, (ops[i] as { tmp: string }).tmp);
      const fh = await writeDurably(tmp, c.content, "wx");
      try {
        if (c.attrsFrom && (await exists(c.attrsFrom)))
          await copyAttrs(fh, await stat(c.attrsFrom), path.join(root, c.path), (w) => warnings.push(w));
      } finally {
        await fh.close();
      }
      stepDone(`stage ${c.path}`);
    }
  } catch (err) {
    await rollBack(root, journal).catch(() => undefined); // the original error is what the user must see
    throw writeFailure(root, err);
  }
  journal.phase = "committed";
  try {
    await writeJournal(root, journal);
  } catch (err) {
    await rollBack(root, journal).catch(() => undefined);
    throw writeFailure(root, err);
  }
  try {
    await rollForward(root, journal);
  } catch (err) {
    // The journal stays: the next check, apply or revert finishes the job.
    throw writeFailure(root, err);
  }
  return warnings;
}

async function rollBack(root: string, j: Journal): Promise<void> {
  for (const op of j.ops) {
    if (op.op !== "write") continue;
    await rmIfThere(path.join(root, op.tmp));
    stepDone(`unstage ${op.path}`);
  }
  for (const d of [...j.made_dirs].reverse()) {
    try {
      await rmdir(path.join(root, d));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR" && code !== "ENOTEMPTY" && code !== "EEXIST") throw err;
    }
    stepDone(`rmdir ${d}`);
  }
  await removeJournal(root);
}

class CannotFinish extends Error {}

async function rollForward(root: string, j: Journal): Promise<void> {
  const dirs = new Set<string>();
  for (const op of j.ops) {
    const abs = path.join(root, op.path);
    dirs.add(path.dirname(abs));
    if (op.op === "write") {
      try {
        await rename(path.join(root, op.tmp), abs);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
        // Renamed before the interruption, or the temp is gone: only the target's bytes can tell.
        const now = await readFile(abs).catch(() => null);
        if (now === null || sha256(now) !== op.sha256)
          throw new CannotFinish(`${op.path}: its staged content ${op.tmp} is gone and the file does not hold it`);
      }
    } else {
      await rmIfThere(abs, op.op === "rmtree");
    }
    stepDone(`${op.op} ${op.path}`);
  }
  for (const d of dirs) if (await exists(d)) await syncDir(d);
  await removeJournal(root);
}

async function readJournal(root: string): Promise<Journal | null> {
  let text: string;
  try {
    text = await readFile(path.join(root, JOURNAL_FILE), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  try {
    const j = JSON.parse(text) as Journal;
    if (j.moe_prof_patch_journal === 1 && Array.isArray(j.ops) && Array.isArray(j.made_dirs)) return j;
  } catch {
    /* below */
  }
  // Written by rename from a fsynced temp: a journal is whole or absent. This one is neither.
  throw envError(
    `${path.join(root, JOURNAL_FILE)}: not a moe-prof patch journal; move it away and run \`moe-prof patch check\``,
  );
}

export async function hasJournal(root: string): Promise<boolean> {
  return exists(path.join(root, JOURNAL_FILE));
}

/**
 * Finishes or undoes a transaction a killed process left behind (the caller holds the lock).
 * Returns what was done, in words, or null when there was nothing to do.
 */
export async function recoverInterrupted(root: string): Promise<string | null> {
  const j = await readJournal(root);
  if (j === null) return null;
  if (j.phase === "staging") {
    await rollBack(root, j);
    return `undid an interrupted \`patch ${j.action}\` (it was stopped before changing any file)`;
  }
  try {
    await rollForward(root, j);
    return `finished an interrupted \`patch ${j.action}\``;
  } catch (err) {
    if (!(err instanceof CannotFinish)) throw err;
    // Something else changed the install meanwhile: abandon the journal, keep the files as found.
    for (const op of j.ops) if (op.op === "write") await rmIfThere(path.join(root, op.tmp));
    await removeJournal(root);
    return `could not finish an interrupted \`patch ${j.action}\` (${err.message}); the files were left as found`;
  }
}

/**
 * Temp files no transaction owns any more (left by a killed run of an older moe-prof, which had
 * no journal): removed from the given directories (relative to root) and root itself.
 */
export async function sweepStrayTemps(root: string, dirs: Iterable<string>): Promise<number> {
  let n = 0;
  for (const d of new Set([".", ...dirs])) {
    let names: string[];
    try {
      names = await readdir(path.join(root, d));
    } catch {
      continue;
    }
    for (const name of names) {
      if (!name.includes(TMP_MARK)) continue;
      await rm(path.join(root, d, name), { force: true });
      n++;
    }
  }
  return n;
}
