// The one way the what-if commands (cache, place, export, compare) read a routes log: the same
// validating scan as `hist` (`validate`'s rules; `--lenient` skips bad lines), with accepted rows
// handed to a sink as they stream past. Nothing is kept here but the expert-id maximum, so a
// command's memory is whatever its sink keeps. When Parquet input or a faster scanner arrives,
// this is the function to teach about it.
import path from "node:path";
import type { RoutesMeta } from "./schema.js";
import type { CheckedRoute } from "./route-check.js";
import type { RequestRows } from "./coverage.js";
import { UserError, EXIT_INVALID } from "../errors.js";
import { logName } from "./log-source.js";

export interface RowSink {
  /** Once, after the meta line is accepted and before any row. */
  onMeta?(meta: RoutesMeta): void;
  /** Every accepted row: `req` is the request's index in order of its first row, `layerIdx` indexes meta.layers_logged. */
  onRow(row: CheckedRoute, req: number, layerIdx: number): void;
}

export interface LogRead {
  file: string;
  meta: RoutesMeta;
  /** Route rows accepted. */
  rows: number;
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
}

/**
 * Validates `file` while streaming its rows into `sink`. Throws UserError (exit 1) for an invalid
 * log unless `lenient`, and for a log without route rows; exit 2 for a file that cannot be read.
 * Results computed by the sink are only meaningful once this resolves.
 */
export async function readRoutesLog(file: string, opts: { lenient?: boolean }, sink: RowSink): Promise<LogRead> {
  // The scan (and zod with it) is loaded when a log is read, not when a command module is.
  const { scanRoutesFile, lenientNote } = await import("./scan.js");
  let maxId = -1;
  const scan = await scanRoutesFile(file, {
    mode: opts.lenient ? "lenient" : "first-error",
    onMeta: (meta) => sink.onMeta?.(meta),
    onRow: (row, req, li) => {
      const ids = row.topk_ids;
      for (let i = 0; i < ids.length; i++) if (ids[i]! > maxId) maxId = ids[i]!;
      sink.onRow(row, req, li);
    },
  });
  const skipped = scan.messages;
  if (scan.meta === null) throw new UserError(skipped[0] ?? `${logName(file)}: no meta line`, EXIT_INVALID);
  if (!opts.lenient && scan.problemCount > 0) throw new UserError(skipped[0]!, EXIT_INVALID);
  if (scan.rows === 0) throw new UserError(`${logName(file)}: no route rows to analyse`, EXIT_INVALID);
  const notes: string[] = [];
  const declared = scan.meta.num_experts;
  if (declared === undefined) {
    notes.push(
      `num_experts is not in the meta line: using max expert id + 1 = ${maxId + 1} (experts above it that were never used cannot be seen)`,
    );
  }
  const lenientSummary = scan.problemCount > 0 ? lenientNote(scan.problemCount, scan.badLines, scan.rows) : null;
  if (lenientSummary !== null) notes.push(lenientSummary);
  return {
    file,
    meta: scan.meta,
    rows: scan.rows,
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

/** What `hist --lenient` prints on stderr: the first skipped problems, then the count. */
export function reportSkipped(read: LogRead, write: (s: string) => void): void {
  if (read.skippedCount === 0) return;
  for (const line of read.skipped.slice(0, 5)) write(`skipped ${line}\n`);
  if (read.lenientSummary !== null) write(`${read.lenientSummary}\n`);
}

/** The file's name for titles and JSON (`source.file`), as hist writes it. */
export function sourceOf(read: LogRead): { file: string; bytes: number } {
  return { file: path.basename(logName(read.file)), bytes: read.bytes };
}
