// The one way the what-if commands (cache, place, export, compare) read a routes log: the same
// validating scan as `hist` (`validate`'s rules; `--lenient` skips bad lines), with accepted rows
// handed to a sink as they stream past. Nothing is kept here but the expert-id maximum, so a
// command's memory is whatever its sink keeps. When Parquet input or a faster scanner arrives,
// this is the function to teach about it.
import path from "node:path";
import type { RoutesMeta } from "./schema.js";
import type { CheckedRoute } from "./route-check.js";
import type { RequestRows } from "./coverage.js";
import { UserError, EXIT_INVALID, envError } from "../errors.js";
import { logName } from "./log-source.js";

export interface RowSink {
  /** Once, after the meta line is accepted and before any row. */
  onMeta?(meta: RoutesMeta): void;
  /** Every accepted row: `req` is the request's index in order of its first row, `layerIdx` indexes meta.layers_logged. */
  onRow(row: CheckedRoute, req: number, layerIdx: number): void;
}

export interface LogRead {
  file: string;
  /** The meta line; with `layers`, its layers_logged is those layers only (as the sink saw it). */
  meta: RoutesMeta;
  /** Route rows accepted (with `layers`: of those layers). */
  rows: number;
  /** Route rows accepted in every layer (--layers or not): what the --lenient share is of. */
  scannedRows: number;
  bytes: number;
  /** Per request (index = `req` of the sink): id, rows per layer, positions. */
  requests: RequestRows[];
  /** meta.num_experts, else the largest expert id seen + 1. */
  numExperts: number;
  numExpertsSource: "meta" | "max_id_plus_1";
  /** Lines skipped by --lenient (0 otherwise). */
  skippedLines: number;
  /** --lenient: the first problems, formatted FILE:LINE: field: what. */
  skipped: string[];
  skippedCount: number;
  /** What a reader of the results should know (inferred num_experts, skipped lines). */
  notes: string[];
  /** --lenient: the count of problems and skipped lines, one line (null when nothing was skipped). */
  lenientSummary: string | null;
  /** Several files read as one (read-log-set.ts): each file's share; absent for one file. */
  files?: FileShare[];
}

/** One file's share of a log read from several files. */
export interface FileShare {
  file: string;
  /** Its req_ids appear as `<label>/<req_id>`. */
  label: string;
  bytes: number;
  rows: number;
  requests: number;
}

/**
 * Validates `file` while streaming its rows into `sink`. Throws UserError (exit 1) for an invalid
 * log unless `lenient`, and for a log without route rows; exit 2 for a file that cannot be read.
 * Results computed by the sink are only meaningful once this resolves.
 */
export async function readRoutesLog(
  file: string,
  opts: {
    lenient?: boolean;
    layers?: number[];
    onProgress?: (done: number, total: number | null) => void;
    /** The meta line as logged (before --layers), once accepted; may throw to refuse the log. */
    onLogMeta?: (meta: RoutesMeta) => void;
  },
  sink: RowSink,
): Promise<LogRead> {
  // The scan (and zod with it) is loaded when a log is read, not when a command module is.
  const { scanRoutesFile, lenientNote } = await import("./scan.js");
  let maxId = -1;
  let rows = 0;
  /** --layers: index in the selected layers of each logged layer's index, -1 for one left out. */
  let keep: Int32Array | null = null;
  let analysed: RoutesMeta | null = null;
  const scan = await scanRoutesFile(file, {
    mode: opts.lenient ? "lenient" : "first-error",
    onProgress: opts.onProgress,
    onMeta: (meta) => {
      opts.onLogMeta?.(meta);
      analysed = meta;
      if (opts.layers !== undefined) {
        const selected = selectedLayers(file, meta, opts.layers);
        keep = Int32Array.from(meta.layers_logged, (l) => selected.indexOf(l));
        analysed = { ...meta, layers_logged: selected };
      }
      sink.onMeta?.(analysed);
    },
    onRow: (row, req, li) => {
      // Every row is validated; rows of layers left out by --layers stop here.
      if (keep !== null) {
        li = keep[li]!;
        if (li < 0) return;
      }
      const ids = row.topk_ids;
      for (let i = 0; i < ids.length; i++) if (ids[i]! > maxId) maxId = ids[i]!;
      rows++;
      sink.onRow(row, req, li);
    },
  });
  const skipped = scan.messages;
  if (scan.meta === null) throw new UserError(skipped[0] ?? `${logName(file)}: no meta line`, EXIT_INVALID);
  if (!opts.lenient && scan.problemCount > 0) throw new UserError(skipped[0]!, EXIT_INVALID);
  if (rows === 0) throw new UserError(`${logName(file)}: no route rows to analyse`, EXIT_INVALID);
  const notes: string[] = [];
  const declared = scan.meta.num_experts;
  if (declared === undefined) {
    notes.push(
      `num_experts is not in the meta line: using max expert id + 1 = ${maxId + 1} (experts above it that were never used cannot be seen)`,
    );
  }
  if (opts.layers !== undefined)
    notes.push(
      `--layers: ${analysed!.layers_logged.length} of the ${scan.meta.layers_logged.length} logged layers analysed (${analysed!.layers_logged.join(",")}); validation covers all`,
    );
  const lenientSummary = scan.problemCount > 0 ? lenientNote(scan.problemCount, scan.badLines, scan.rows) : null;
  if (lenientSummary !== null) notes.push(lenientSummary);
  return {
    file,
    meta: analysed ?? scan.meta,
    rows,
    scannedRows: scan.rows,
    bytes: scan.bytes,
    requests: scan.requests,
    numExperts: declared ?? maxId + 1,
    numExpertsSource: declared === undefined ? "max_id_plus_1" : "meta",
    skippedLines: scan.badLines,
    skipped,
    skippedCount: scan.problemCount,
    notes,
    lenientSummary,
  };
}

/**
 * The layers of `wanted` (sorted, as parseLayerList gives them), all of which must be logged:
 * --layers naming a layer the log lacks is a usage error that names the layers it has.
 */
export function selectedLayers(file: string, meta: RoutesMeta, wanted: number[]): number[] {
  const missing = wanted.filter((l) => !meta.layers_logged.includes(l));
  if (missing.length)
    throw envError(
      `--layers: ${missing.join(",")} not logged in ${logName(file)} (layers_logged: ${meta.layers_logged.join(",")})`,
    );
  return meta.layers_logged.filter((l) => wanted.includes(l));
}

/** What `hist --lenient` prints on stderr: the first skipped problems, then the count. */
export function reportSkipped(read: LogRead, write: (s: string) => void): void {
  if (read.skippedCount === 0) return;
  for (const line of read.skipped.slice(0, 5)) write(`skipped ${line}\n`);
  if (read.lenientSummary !== null) write(`${read.lenientSummary}\n`);
}

/** The file's name for titles and JSON (`source.file`), as hist writes it; for several files
 * read as one, the set's name and each file's share. */
export function sourceOf(read: LogRead): { file: string; bytes: number; files?: FileShare[] } {
  if (read.files !== undefined) return { file: read.file, bytes: read.bytes, files: read.files };
  return { file: path.basename(logName(read.file)), bytes: read.bytes };
}
