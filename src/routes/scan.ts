// One streaming pass over a routes log (JSONL, or Parquet through parquet-read.ts): the meta step
// (scan-meta.ts) on line 1, then the row loop (scan-rows.ts) on every other line, then the rows
// some layers lack. Problems are collected and worded by one Problems (src/problems.ts). Accepted
// rows are handed to `onRow` (analysis), so `hist` reads the file once.
import { stat } from "node:fs/promises";
import { readLines, DEFAULT_MAX_LINE_BYTES, type LineSink } from "./line-reader.js";
import type { RoutesMeta } from "./schema.js";
import type { RequestRows } from "./coverage.js";
import { isParquetFile, readParquetRows, parquetPlace } from "./parquet-read.js";
import { checkMetaLine } from "./scan-meta.js";
import { RowLoop, type OnRow } from "./scan-rows.js";
import { jsonProblem } from "./scan-line.js";
import { Problems, type Problem } from "../problems.js";
import { envError, fsProblem } from "../errors.js";
import { STDIN, logName } from "./log-source.js";

export type ScanMode =
  /** Stop at the first problem (`validate`, `hist`). */
  | "first-error"
  /** Keep going and collect every problem (`validate --all-errors`). */
  | "all-errors"
  /** Skip bad lines and keep going; problems are still collected (`hist --lenient`). */
  | "lenient";

export interface ScanOptions {
  mode?: ScanMode;
  maxLineBytes?: number;
  /** Problems kept in full; the rest are only counted. */
  keepProblems?: number;
  /** Called once, after the meta line is accepted and before any row. */
  onMeta?: (meta: RoutesMeta) => void;
  /** Called for every accepted route row; `req` is a dense request index, `layerIdx` indexes layers_logged. */
  onRow?: OnRow;
  /** Group rows into the batches they were written in instead of by req_id (seed-layout.ts). */
  asBatches?: boolean;
  /** Progress of the read: bytes read so far (before decompression) of `total` (null: stdin). */
  onProgress?: (done: number, total: number | null) => void;
  /** Try the byte scanner (fast-scan/fast-row.ts) before JSON.parse (default: on unless MOE_PROF_FAST_SCAN=0). */
  fastPath?: boolean;
}

export interface ScanResult {
  file: string;
  bytes: number;
  lines: number;
  meta: RoutesMeta | null;
  /** Accepted route rows. */
  rows: number;
  /** Lines rejected (0 when valid). With mode "first-error" at most 1. */
  badLines: number;
  /** The first problems (ScanOptions.keepProblems), and the same worded `FILE:LINE: field: what`. */
  problems: Problem[];
  messages: string[];
  problemCount: number;
  /** Per request: rows per layer, distinct positions, min/max token_idx. */
  requests: RequestRows[];
  /** Name ends in .partial: a log still being written or left by a crash. */
  partial: boolean;
  /** The log crosses a limit of limits.ts (the problem, formatted): refused even by --lenient. */
  overLimit: string | null;
  /** Set when a duplicate looked like the seed capture's layout: what to do about it. */
  layoutHint: string | null;
  /** With asBatches: how many batches the rows were grouped into. */
  batches: number | null;
}

/** What a lenient read skipped, in one line (the summary's note and stderr). */
export function lenientNote(problems: number, lines: number, rows: number): string {
  const share =
    lines + rows > 0 ? ` (${((100 * lines) / (lines + rows)).toFixed(1)}% of ${lines + rows} route lines)` : "";
  return `--lenient: ${problems} problem${problems === 1 ? "" : "s"}, ${lines} line${lines === 1 ? "" : "s"} skipped${share}`;
}

/** The file could not be opened or read (EACCES, EIO, EISDIR, ...): environment, exit 2. An
 * error about another file (the scanner's .wasm, say) is not the log's and goes on as it is. */
function readFailure(file: string, e: unknown, name = file): Error {
  const err = e as NodeJS.ErrnoException;
  if (err.path !== undefined && err.path !== file) return err;
  return err.code ? envError(`${name}: cannot read: ${fsProblem(err)}`) : err;
}

export async function scanRoutesFile(file: string, opts: ScanOptions = {}): Promise<ScanResult> {
  // Standard input ("-") is read as it comes: no stat, and never Parquet (log-source.ts says so).
  let total: number | null = null;
  if (file !== STDIN) {
    let info;
    try {
      info = await stat(file);
    } catch (e) {
      throw readFailure(file, e);
    }
    if (!info.isFile()) throw envError(`${file}: not a regular file`);
    total = info.size;
  }
  const parquet = file !== STDIN && (await isParquetFile(file));
  const problems = new Problems(logName(file), {
    stopAtFirst: (opts.mode ?? "first-error") === "first-error",
    keep: opts.keepProblems,
    place: parquet ? parquetPlace : undefined,
  });
  const partial = file.endsWith(".partial");
  if (partial)
    problems.add(
      null,
      null,
      "file name ends in .partial: the log is incomplete (still being written, or left by a crash)",
    );

  /** Made by the meta step; null until line 1 is accepted. */
  let rows: RowLoop | null = null;
  const metaStep = (value: unknown): void => {
    const verdict = checkMetaLine(value);
    if (verdict.meta === null) {
      problems.rejectLine(1, verdict.field, verdict.what);
      problems.stop(); // without a meta line nothing else can be checked
      return;
    }
    rows = new RowLoop(verdict.meta, problems, opts);
    opts.onMeta?.(verdict.meta);
  };
  const value = (v: unknown, lineNo: number): void => {
    if (lineNo === 1) return metaStep(v);
    if (rows !== null) return rows.value(v, lineNo);
    // Only reachable if line 1 failed and reading went on anyway; there is nothing to check against.
    problems.rejectLine(lineNo, null, "no valid meta line to check this line against");
    problems.stop();
  };
  const onProgress = opts.onProgress;
  const sink: LineSink = {
    get stopped() {
      return problems.stopped;
    },
    progress: onProgress && ((done) => onProgress(done, total)),
    lines(buf, start, end, firstLineNo) {
      const loop = rows;
      if (loop !== null)
        return loop.fast === null ? null : { lines: loop.fastLines(buf, start, end, firstLineNo, this), next: end };
      if (firstLineNo !== 1) return null;
      // Line 1 (the meta line) the usual way; the rest of the chunk then through the fast path.
      const nl = buf.indexOf(10, start);
      this.line(buf.toString("utf8", start, nl), 1, true);
      const made = rows;
      if (problems.stopped || made?.fast == null) return { lines: 1, next: nl + 1 };
      return { lines: 1 + made.fastLines(buf, nl + 1, end, 2, this), next: end };
    },
    unreadable(lineNo, what) {
      problems.rejectLine(lineNo, null, what);
      if (lineNo === 1) problems.stop(); // without a meta line nothing else can be checked
    },
    line(text, lineNo, terminated) {
      if (lineNo !== 1) {
        const loop = rows;
        if (loop !== null) return loop.line(text, lineNo, terminated);
      }
      // A UTF-8 byte-order mark some editors put first is not part of the JSON (RFC 8259 lets
      // readers ignore it): skipped.
      if (lineNo === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      let v: unknown;
      try {
        v = JSON.parse(text);
      } catch {
        const p = jsonProblem(text, terminated);
        problems.rejectLine(lineNo, p.field, p.what);
        if (lineNo === 1) problems.stop(); // without a meta line nothing else can be checked
        return;
      }
      value(v, lineNo);
    },
  };

  const read = await (
    parquet
      ? readParquetRows(file, {
          value,
          fileProblem: (what) => {
            problems.stop();
            problems.add(null, null, what);
          },
          get stopped() {
            return problems.stopped;
          },
        })
      : readLines(file, sink, opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES)
  ).catch((e) => {
    throw readFailure(file, e, logName(file));
  });
  const loop = rows as RowLoop | null; // assigned inside the callbacks, which TypeScript's narrowing cannot see
  if (!problems.stopped) {
    if (read.bytes === 0) problems.add(null, null, "empty file: expected a meta line and route rows");
    // A log of only its meta line is not something hist could analyse: both commands say so.
    else if (loop !== null && read.lines === 1)
      problems.add(null, null, "no route rows: the log holds only its meta line (nothing was logged)");
  }
  if (!problems.stopped && loop !== null) loop.reportMissingRows();
  return {
    file,
    bytes: read.bytes,
    lines: read.lines,
    meta: loop === null ? null : loop.meta,
    rows: loop?.acceptor.rows ?? 0,
    badLines: problems.badLines,
    problems: problems.kept,
    messages: problems.messages(),
    problemCount: problems.count,
    requests: loop?.acceptor.coverage.requests() ?? [],
    partial,
    overLimit: loop?.overLimit ?? null,
    layoutHint: loop?.layoutHint ?? null,
    batches: loop?.acceptor.batches?.batches ?? null,
  };
}
