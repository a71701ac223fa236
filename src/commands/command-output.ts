// Output handling shared by the what-if commands (cache, place, export, compare): the --out
// directory, atomic writes with one-line errors, and --json vs the human summary.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../artifacts/atomic-write.js";
import { toCompactJson } from "../artifacts/compact-json.js";
import { envError, fsProblem } from "../errors.js";
import { refuseFileAsOutDir } from "../config/out-dir-guard.js";
import { parseLayerList } from "../config/layer-list.js";
import type { ScanProgress } from "./scan-progress.js";

export interface OutputFile {
  name: string;
  data: string | Uint8Array;
}

/** --out, or the directory of `logFile`; created if missing. */
export async function prepareOutDir(out: string | undefined, logFile: string): Promise<string> {
  const outDir = out ?? path.dirname(path.resolve(logFile));
  await makeOutDir(outDir);
  return outDir;
}

/** Creates --out (and its parents) if missing; a one-line UserError (exit 2) when it cannot. */
export async function makeOutDir(outDir: string): Promise<void> {
  refuseFileAsOutDir(outDir);
  try {
    await mkdir(outDir, { recursive: true });
  } catch (e) {
    throw envError(`--out ${outDir}: cannot create: ${fsProblem(e)}`);
  }
}

/** Maps a file-system error while writing into --out to a one-line UserError (exit 2). */
export function asWriteError(outDir: string, e: unknown): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code && /^E[A-Z]+$/.test(code)) return envError(`--out ${outDir}: cannot write: ${fsProblem(e)}`);
  return e;
}

/** Writes each file atomically (temp file + rename); returns their paths. */
export async function writeOutputs(outDir: string, files: OutputFile[]): Promise<string[]> {
  const written: string[] = [];
  try {
    for (const f of files) {
      const target = path.join(outDir, f.name);
      await writeFileAtomic(target, f.data);
      written.push(target);
    }
  } catch (e) {
    throw asWriteError(outDir, e);
  }
  return written;
}

export const toJson = (x: unknown): string => toCompactJson(x);

/** What --json prints: one line (a pipe's reader splits on lines), or with --pretty the file's indented form. */
export const jsonOutput = (x: unknown, pretty?: boolean): string =>
  pretty ? toCompactJson(x) : JSON.stringify(x) + "\n";

/** Lists items for --help text and errors: "a, b or c". */
export function orList(xs: readonly string[]): string {
  return xs.length < 2 ? xs.join("") : `${xs.slice(0, -1).join(", ")} or ${xs[xs.length - 1]}`;
}

/** How a what-if command reads its log (read-log.ts): --lenient, and --layers parsed. */
export function readOptions(
  opts: { lenient?: boolean; layers?: string },
  progress?: ScanProgress | null,
): { lenient?: boolean; layers?: number[]; onProgress?: (done: number, total: number | null) => void } {
  return {
    lenient: opts.lenient,
    layers: opts.layers === undefined ? undefined : parseLayerList(opts.layers),
    onProgress: progress ? (d, t) => progress.update(d, t) : undefined,
  };
}
