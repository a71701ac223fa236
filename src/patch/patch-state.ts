// applied / not applied / conflicting, decided file by file against the exact patch.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { applyExact, newFileContent, type FilePatch } from "./unified-diff.js";

export type FileState = "pristine" | "patched" | "conflicting";
/** "partial": every file is either as installed or as patched, but not all the same (an apply or
 *  revert of an older moe-prof, without a journal, was interrupted): apply and revert finish it.
 *  "other-version": patched, completely, by another moe-prof version (see vllm-patch.ts):
 *  apply replaces that patch, revert removes it. */
export type PatchState = "applied" | "not-applied" | "partial" | "other-version" | "conflicting";

export interface FileReport {
  path: string;
  state: FileState;
  current: string | null; // null: file absent
}

async function readOrNull(file: string): Promise<string | null> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null;
    throw err;
  }
}

/** sha256 (urlsafe base64, no padding, as in RECORD) of a file's text. */
export function recordHash(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("base64url");
}

/** path -> hash from the install's dist-info RECORD: what each file was when pip installed it. */
export async function readRecord(root: string, distInfo: string): Promise<Map<string, string> | null> {
  let text: string;
  try {
    text = await readFile(path.join(root, distInfo, "RECORD"), "utf8");
  } catch {
    return null;
  }
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^(.*),sha256=([A-Za-z0-9_-]+),\d*$/.exec(line.trim());
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** With RECORD, a modified file is pristine only if its bytes are the installed ones, patched only
 *  if reversing the patch gives them: a hunk's context matching is not enough (an edit elsewhere in
 *  the file is still someone else's change). Without RECORD, context decides. */
export async function fileStates(
  root: string,
  patches: FilePatch[],
  record: Map<string, string> | null = null,
): Promise<FileReport[]> {
  const out: FileReport[] = [];
  for (const fp of patches) {
    const current = await readOrNull(path.join(root, fp.path));
    let state: FileState;
    if (fp.isNew) {
      state = current === null ? "pristine" : current === newFileContent(fp) ? "patched" : "conflicting";
    } else if (current === null) {
      state = "conflicting";
    } else {
      const installed = record?.get(fp.path);
      const matches = (text: string | null): boolean =>
        text !== null && (installed === undefined || recordHash(text) === installed);
      if (applyExact(current, fp) !== null && matches(current)) state = "pristine";
      else if (matches(applyExact(current, fp, true))) state = "patched";
      else state = "conflicting";
    }
    out.push({ path: fp.path, state, current });
  }
  return out;
}

export function overallState(files: FileReport[]): PatchState {
  if (files.every((f) => f.state === "patched")) return "applied";
  if (files.every((f) => f.state === "pristine")) return "not-applied";
  return files.some((f) => f.state === "conflicting") ? "conflicting" : "partial";
}
