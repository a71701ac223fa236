// apply / check / revert moe-prof's vLLM 0.15.1 patch in an install's site-packages.
import { createHash } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import { packageRoot } from "../config/package-info.js";
import { envError, UserError, EXIT_ENV } from "../errors.js";
import { commitChanges, writeFailure, type FileChange } from "./file-transaction.js";
import { fileStates, overallState, readRecord, type FileReport, type PatchState } from "./patch-state.js";
import { applyExact, newFileContent, parseUnifiedDiff, type FilePatch } from "./unified-diff.js";

export const PATCH_FILE = "patches/vllm-v0.15.1-moe-logger.patch";
/** Originals of the files the patch modifies, kept beside vllm/ for a byte-identical revert. */
export const BACKUP_DIR = ".moe-prof-vllm-backup";

export async function loadPatch(file = path.join(packageRoot(), PATCH_FILE)): Promise<FilePatch[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw envError(`moe-prof's patch file is missing: ${file}`);
  }
  return parseUnifiedDiff(text, file);
}

const sha = (s: string): string => createHash("sha256").update(s, "utf8").digest("hex");

export interface StateReport {
  state: PatchState;
  files: FileReport[];
}

export const DIST_INFO = "vllm-0.15.1.dist-info";

export async function checkPatch(root: string, patches: FilePatch[]): Promise<StateReport> {
  const files = await fileStates(root, patches, await readRecord(root, DIST_INFO));
  return { state: overallState(files), files };
}

function conflictError(root: string, files: FileReport[], what: string): UserError {
  const bad = files.filter((f) => f.state === "conflicting").map((f) => f.path);
  const mixed = bad.length === 0 ? " (some files patched, some not)" : `: ${bad.join(", ")} changed by something else`;
  return new UserError(`cannot ${what}: vLLM in ${root} is in a conflicting state${mixed}; reinstall vllm==0.15.1`, EXIT_ENV);
}

export async function applyPatch(root: string, patches: FilePatch[]): Promise<"applied" | "already-applied"> {
  const { state, files } = await checkPatch(root, patches);
  if (state === "applied") return "already-applied";
  if (state === "conflicting") throw conflictError(root, files, "apply the patch");
  const changes: FileChange[] = [];
  const manifest: Record<string, { original_sha256: string; patched_sha256: string }> = {};
  for (const [i, fp] of patches.entries()) {
    const file = path.join(root, fp.path);
    if (fp.isNew) {
      changes.push({ file, content: newFileContent(fp) });
      continue;
    }
    const original = files[i]!.current!;
    const patched = applyExact(original, fp)!;
    changes.push({ file: path.join(root, BACKUP_DIR, fp.path), content: original });
    changes.push({ file, content: patched });
    manifest[fp.path] = { original_sha256: sha(original), patched_sha256: sha(patched) };
  }
  changes.push({ file: path.join(root, BACKUP_DIR, "manifest.json"), content: JSON.stringify({ vllm: "0.15.1", files: manifest }, null, 1) + "\n" });
  await commitChanges(root, changes);
  return "applied";
}

async function readBackup(root: string, rel: string, want: string): Promise<string | null> {
  try {
    const text = await readFile(path.join(root, BACKUP_DIR, rel), "utf8");
    return sha(text) === want ? text : null;
  } catch {
    return null;
  }
}

export async function revertPatch(root: string, patches: FilePatch[]): Promise<"reverted" | "not-applied"> {
  const { state, files } = await checkPatch(root, patches);
  if (state === "not-applied") return "not-applied";
  if (state === "conflicting") throw conflictError(root, files, "revert the patch");
  let manifest: { files?: Record<string, { original_sha256: string }> } = {};
  try {
    manifest = JSON.parse(await readFile(path.join(root, BACKUP_DIR, "manifest.json"), "utf8"));
  } catch {
    /* no backup: the exact reverse of the patch gives the same bytes */
  }
  const changes: FileChange[] = [];
  for (const [i, fp] of patches.entries()) {
    const file = path.join(root, fp.path);
    if (fp.isNew) {
      changes.push({ file, content: null });
      continue;
    }
    const current = files[i]!.current!;
    const fromBackup = manifest.files?.[fp.path] ? await readBackup(root, fp.path, manifest.files[fp.path]!.original_sha256) : null;
    changes.push({ file, content: fromBackup ?? applyExact(current, fp, true)! });
  }
  await commitChanges(root, changes);
  // directories the patch created, with the bytecode Python left in them, and the backup
  const created = new Set(patches.filter((p) => p.isNew).map((p) => path.dirname(p.path)));
  try {
    for (const dir of created) await rm(path.join(root, dir), { recursive: true, force: true });
    await rm(path.join(root, BACKUP_DIR), { recursive: true, force: true });
  } catch (err) {
    throw writeFailure(root, err);
  }
  return "reverted";
}
