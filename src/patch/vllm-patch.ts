// apply / check / revert moe-prof's vLLM patch (one per supported release, vllm-versions.ts) in an install's site-packages. Every action
// takes the install's lock, first finishes or undoes whatever transaction a killed moe-prof left
// (file-transaction.ts), and changes files only through a journaled transaction.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { envError, UserError, EXIT_ENV } from "../errors.js";
import {
  hasJournal,
  newTxid,
  recoverInterrupted,
  runTransaction,
  sweepStrayTemps,
  writeFailure,
  type Change,
} from "./file-transaction.js";
import { acquirePatchLock } from "./lock.js";
import { fileStates, overallState, readRecord, recordHash, type FileReport, type PatchState } from "./patch-state.js";
import { applyExact, newFileContent, parseUnifiedDiff, type FilePatch } from "./unified-diff.js";
import { vllmPatchPath, type SupportedVllm } from "./vllm-versions.js";

/** Originals of the files the patch modifies, kept beside vllm/ for a byte-identical revert. */
export const BACKUP_DIR = ".moe-prof-vllm-backup";

/** A release's patch, with the release it is for (its dist-info names the files' pip hashes). */
export interface VllmPatch {
  version: string;
  files: FilePatch[];
}

export async function loadPatch(release: SupportedVllm, file = vllmPatchPath(release)): Promise<VllmPatch> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw envError(`moe-prof's patch file is missing: ${file}`);
  }
  return { version: release.version, files: parseUnifiedDiff(text, file) };
}

const sha = (s: string): string => createHash("sha256").update(s, "utf8").digest("hex");

export interface StateReport {
  state: PatchState;
  files: FileReport[];
  /** "other-version": the files that version modified, with their pip-installed originals. */
  otherVersion?: Restore[];
}

interface Restore {
  path: string;
  original: string;
}

interface BackupManifest {
  files?: Record<string, { original_sha256?: string; patched_sha256?: string }>;
}

async function readManifest(root: string): Promise<BackupManifest | null> {
  try {
    return JSON.parse(await readFile(path.join(root, BACKUP_DIR, "manifest.json"), "utf8")) as BackupManifest;
  } catch {
    return null;
  }
}

/**
 * An install patched by another moe-prof version (an upgrade of moe-prof, not a foreign edit):
 * every file that version modified is byte for byte what it wrote (its backup manifest's
 * patched_sha256), its backup holds the original that pip installed (RECORD's hash), and every
 * file only this version modifies is still pristine. Its new files live in moe-prof's own
 * directory (vllm/moe_prof_capture/), which vLLM does not have. Returns what to restore, or null.
 */
async function otherVersionPatch(
  root: string,
  patches: FilePatch[],
  files: FileReport[],
  record: Map<string, string> | null,
): Promise<Restore[] | null> {
  const manifest = await readManifest(root);
  const entries = Object.entries(manifest?.files ?? {});
  if (record === null || entries.length === 0) return null;
  const restore: Restore[] = [];
  for (const [rel, hashes] of entries) {
    let current: string;
    try {
      current = await readFile(path.join(root, rel), "utf8");
    } catch {
      return null;
    }
    const original = hashes.original_sha256 ? await readBackup(root, rel, hashes.original_sha256) : null;
    if (sha(current) !== hashes.patched_sha256 || original === null || recordHash(original) !== record.get(rel))
      return null;
    restore.push({ path: rel, original });
  }
  const theirs = new Set(entries.map(([rel]) => rel));
  const ok = patches.every((fp, i) => fp.isNew || theirs.has(fp.path) || files[i]!.state === "pristine");
  return ok ? restore : null;
}

/** The directories the patch creates (moe-prof's own, inside vllm/). */
const newDirs = (patches: FilePatch[]) => [...new Set(patches.filter((p) => p.isNew).map((p) => path.dirname(p.path)))];

/** Puts another moe-prof version's patch out: originals back, its directory and backup removed. */
async function removeOtherVersion(
  root: string,
  patches: FilePatch[],
  restore: Restore[],
  txid: string,
): Promise<string[]> {
  const changes: Change[] = restore.map((r) => ({
    kind: "write",
    path: r.path,
    content: r.original,
    attrsFrom: path.join(root, r.path),
  }));
  for (const dir of newDirs(patches)) changes.push({ kind: "rmtree", path: dir });
  changes.push({ kind: "rmtree", path: BACKUP_DIR });
  return runTransaction(root, "revert", txid, changes);
}

/** What an action did besides its result: recovery of an interrupted transaction, warnings. */
export interface ActionNotes {
  notes: string[];
}

/** The state as the files are now, without the lock (see inspectPatch for the locked version). */
export async function checkPatch(root: string, patch: VllmPatch): Promise<StateReport> {
  const patches = patch.files;
  const record = await readRecord(root, `vllm-${patch.version}.dist-info`);
  const files = await fileStates(root, patches, record);
  const state = overallState(files);
  if (state === "conflicting" || state === "partial") {
    const otherVersion = await otherVersionPatch(root, patches, files, record);
    if (otherVersion) return { state: "other-version", files, otherVersion };
  }
  return { state, files };
}

/** Directories where a transaction puts temp files: those of every target and of their backups. */
function tempDirs(patches: FilePatch[]): string[] {
  return patches.flatMap((p) => [path.dirname(p.path), path.join(BACKUP_DIR, path.dirname(p.path))]).concat(BACKUP_DIR);
}

const isReadOnly = (err: unknown) => ["EACCES", "EPERM", "EROFS"].includes((err as NodeJS.ErrnoException).code ?? "");

/** Lock, recover, sweep; then `body`. `onReadOnly` answers instead where the lock cannot be made. */
async function underLock<T>(
  root: string,
  patches: FilePatch[],
  body: (txid: string, notes: string[]) => Promise<T>,
  onReadOnly?: () => Promise<T>,
): Promise<T & ActionNotes> {
  const txid = newTxid();
  let lock;
  try {
    lock = await acquirePatchLock(root, txid);
  } catch (err) {
    if (onReadOnly && isReadOnly(err)) return { ...(await onReadOnly()), notes: [] };
    throw writeFailure(root, err);
  }
  try {
    const notes: string[] = [];
    const recovered = await recoverInterrupted(root);
    if (recovered) notes.push(recovered);
    const swept = await sweepStrayTemps(root, tempDirs(patches));
    if (swept)
      notes.push(`removed ${swept} temporary file${swept === 1 ? "" : "s"} left by an interrupted older moe-prof`);
    const value = await body(txid, notes);
    return { ...value, notes };
  } catch (err) {
    throw writeFailure(root, err);
  } finally {
    await lock.release();
  }
}

/**
 * `patch check`: the state after finishing any interrupted transaction. Where the install cannot
 * be written (a system site-packages checked by another user) it is read as it stands, unless a
 * transaction was interrupted there: then only a user who can write there can finish it.
 */
export async function inspectPatch(root: string, patch: VllmPatch): Promise<StateReport & ActionNotes> {
  return underLock(
    root,
    patch.files,
    () => checkPatch(root, patch),
    async () => {
      if (await hasJournal(root))
        throw envError(
          `an interrupted moe-prof patch transaction in ${root} must be finished by a user who can write there: run \`moe-prof patch check\` as that user`,
        );
      return checkPatch(root, patch);
    },
  );
}

function conflictError(root: string, files: FileReport[], what: string, version: string): UserError {
  const bad = files.filter((f) => f.state === "conflicting").map((f) => f.path);
  return new UserError(
    `cannot ${what}: ${bad.join(", ")} in ${root} changed by something other than moe-prof; reinstall vllm==${version}`,
    EXIT_ENV,
  );
}

export async function applyPatch(
  root: string,
  patch: VllmPatch,
): Promise<{ result: "applied" | "already-applied" } & ActionNotes> {
  const patches = patch.files;
  return underLock(root, patches, async (txid, notes) => {
    const checked = await checkPatch(root, patch);
    let { state, files } = checked;
    if (state === "other-version") {
      notes.push(...(await removeOtherVersion(root, patches, checked.otherVersion!, txid)).map((w) => `warning: ${w}`));
      notes.push("removed the patch of another moe-prof version");
      ({ state, files } = await checkPatch(root, patch));
      txid = newTxid();
    }
    if (state === "applied") return { result: "already-applied" as const };
    if (state === "conflicting") throw conflictError(root, files, "apply the patch", patch.version);
    // New files get the mode and owner pip gave the package's own files.
    const like = path.join(root, "vllm", "__init__.py");
    const changes: Change[] = [];
    const manifest: Record<string, { original_sha256: string; patched_sha256: string }> = {};
    for (const [i, fp] of patches.entries()) {
      const f = files[i]!;
      if (fp.isNew) {
        if (f.state === "pristine")
          changes.push({ kind: "write", path: fp.path, content: newFileContent(fp), attrsFrom: like });
        continue;
      }
      const abs = path.join(root, fp.path);
      // "partial" (an older moe-prof interrupted): a file already patched gets its original back by
      // the exact reverse, which checkPatch verified against RECORD.
      const original = f.state === "pristine" ? f.current! : applyExact(f.current!, fp, true)!;
      const patched = f.state === "pristine" ? applyExact(original, fp)! : f.current!;
      changes.push({ kind: "write", path: path.join(BACKUP_DIR, fp.path), content: original, attrsFrom: abs });
      if (f.state === "pristine") changes.push({ kind: "write", path: fp.path, content: patched, attrsFrom: abs });
      manifest[fp.path] = { original_sha256: sha(original), patched_sha256: sha(patched) };
    }
    changes.push({
      kind: "write",
      path: path.join(BACKUP_DIR, "manifest.json"),
      content: JSON.stringify({ vllm: patch.version, files: manifest }, null, 1) + "\n",
      attrsFrom: like,
    });
    notes.push(...(await runTransaction(root, "apply", txid, changes)).map((w) => `warning: ${w}`));
    return { result: "applied" as const };
  });
}

async function readBackup(root: string, rel: string, want: string): Promise<string | null> {
  try {
    const text = await readFile(path.join(root, BACKUP_DIR, rel), "utf8");
    return sha(text) === want ? text : null;
  } catch {
    return null;
  }
}

export async function revertPatch(
  root: string,
  patch: VllmPatch,
): Promise<{ result: "reverted" | "not-applied" } & ActionNotes> {
  const patches = patch.files;
  return underLock(root, patches, async (txid, notes) => {
    const { state, files, otherVersion } = await checkPatch(root, patch);
    if (state === "other-version") {
      notes.push(...(await removeOtherVersion(root, patches, otherVersion!, txid)).map((w) => `warning: ${w}`));
      return { result: "reverted" as const };
    }
    if (state === "not-applied") return { result: "not-applied" as const };
    if (state === "conflicting") throw conflictError(root, files, "revert the patch", patch.version);
    // no backup: the exact reverse of the patch gives the same bytes
    const manifest: BackupManifest = (await readManifest(root)) ?? {};
    const changes: Change[] = [];
    for (const [i, fp] of patches.entries()) {
      const f = files[i]!;
      if (f.state !== "patched") continue;
      if (fp.isNew) {
        changes.push({ kind: "delete", path: fp.path });
        continue;
      }
      const want = manifest.files?.[fp.path]?.original_sha256;
      const fromBackup = want ? await readBackup(root, fp.path, want) : null;
      changes.push({
        kind: "write",
        path: fp.path,
        content: fromBackup ?? applyExact(f.current!, fp, true)!,
        attrsFrom: path.join(root, fp.path),
      });
    }
    // The directories the patch created, with the bytecode Python left in them, and the backup.
    for (const dir of newDirs(patches)) changes.push({ kind: "rmtree", path: dir });
    changes.push({ kind: "rmtree", path: BACKUP_DIR });
    notes.push(...(await runTransaction(root, "revert", txid, changes)).map((w) => `warning: ${w}`));
    return { result: "reverted" as const };
  });
}
