// Validate + analyse a routes log in one pass: the function behind `hist` (and `run`).
// Large valid logs are split at line boundaries and scanned on several threads; any problem
// found that way sends the log through the sequential scan, which words the error exactly.
import { stat } from "node:fs/promises";
import { isUtf8 } from "node:buffer";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { scanRoutesFile, lenientNote } from "../routes/scan.js";
import { scanRouteRange, type OnRow } from "../routes/scan-rows.js";
import { scanParquetRange, parquetGroupRanges } from "../routes/parquet-range.js";
import { isParquetFile } from "../routes/parquet-read.js";
import { MetaSchema, type RoutesMeta } from "../routes/schema.js";
import { hasWeights } from "../routes/weights.js";
import { readFirstLine, splitAtLines } from "../routes/split-ranges.js";
import { DEFAULT_MAX_LINE_BYTES, type ByteRange } from "../routes/line-reader.js";
import type { CoverageState, RowCoverage } from "../routes/coverage.js";
import { RouteTally, type TallyState } from "../analysis/tally.js";
import { buildSummary, type HistSummary } from "../analysis/summary.js";
import { UserError, EXIT_INVALID } from "../errors.js";
import { isSeekable, logName } from "../routes/log-source.js";
import { selectedLayers as layersLogged } from "../routes/read-log.js";

import { PARALLEL_MIN_BYTES, threadCount, newRangeWorker } from "./range-worker-start.js";

export { PARALLEL_MIN_BYTES, threadCount, lenientNote };

export interface AnalyseOptions {
  /** Analyse only these layers (validation still covers the whole file). */
  layers?: number[];
  /** Skip bad lines instead of failing; they are counted in `skippedLines`. */
  lenient?: boolean;
  /** Threads for large logs (default: available cores, at most 2; env MOE_PROF_THREADS overrides). */
  threads?: number;
  /** Size from which a log is split across threads (default PARALLEL_MIN_BYTES). */
  parallelMinBytes?: number;
  /** Group rows into the batches they were written in, not by req_id (old seed-layout logs). */
  asBatches?: boolean;
  /** A range worker started early (range-worker-start.ts): used by the parallel scan, else stopped. */
  worker?: Worker | null;
  /** Bytes read of the log's size (null: stdin); on threads, estimated from this thread's part. */
  onProgress?: (done: number, total: number | null) => void;
}

export interface AnalyseResult {
  summary: HistSummary;
  /** Problems skipped by `lenient`, formatted `FILE:LINE: field: what` (first 50). */
  skipped: string[];
  skippedCount: number;
}

export interface RangeJob {
  file: string;
  meta: RoutesMeta;
  range: ByteRange;
  /** A Parquet log: `range` is row groups [start, end), not bytes. */
  parquet: boolean;
  selected: boolean[];
  /** False for validation alone: rows are checked and covered, not tallied. */
  tally: boolean;
}

export interface RangeOutcome {
  ok: boolean;
  rows: number;
  lines: number;
  coverage: CoverageState;
  tally: TallyState | null;
}

function selectedLayers(file: string, meta: RoutesMeta, wanted: number[] | undefined): boolean[] {
  const chosen = wanted === undefined ? meta.layers_logged : layersLogged(file, meta, wanted);
  return meta.layers_logged.map((l) => chosen.includes(l));
}

/** Validates and analyses a routes log. Throws UserError (exit 1) on an invalid log unless lenient. */
export async function analyseRoutesFile(file: string, opts: AnalyseOptions = {}): Promise<AnalyseResult> {
  // Batches follow the order of the whole file: not split across threads.
  if (!opts.lenient && !opts.asBatches) {
    const fast = await analyseInParallel(file, opts);
    if (fast) return { summary: fast, skipped: [], skippedCount: 0 };
  } else void opts.worker?.terminate();
  return analyseSequentially(file, opts);
}

async function analyseSequentially(file: string, opts: AnalyseOptions): Promise<AnalyseResult> {
  let tally: RouteTally | null = null;
  const scan = await scanRoutesFile(file, {
    mode: opts.lenient ? "lenient" : "first-error",
    onMeta: (meta) => {
      tally = new RouteTally(
        selectedLayers(file, meta, opts.layers),
        meta.num_experts,
        meta.layers_logged,
        !opts.asBatches,
        hasWeights(meta),
      );
    },
    onRow: (row, req, li) => tally!.add(row, req, li),
    asBatches: opts.asBatches,
    onProgress: opts.onProgress,
  });
  const skipped = scan.messages;
  if (scan.meta === null || tally === null)
    throw new UserError(skipped[0] ?? `${logName(file)}: no meta line`, EXIT_INVALID);
  if (scan.overLimit) throw new UserError(scan.overLimit, EXIT_INVALID);
  if (!opts.lenient && scan.problemCount > 0) throw new UserError(skipped[0]!, EXIT_INVALID);
  const summary = buildSummary({
    meta: scan.meta,
    tally,
    requests: scan.requests,
    rows: scan.rows,
    skippedLines: scan.badLines,
    source: { file: path.basename(logName(file)), bytes: scan.bytes },
    batches: scan.batches,
  });
  if (scan.problemCount > 0) summary.notes.push(lenientNote(scan.problemCount, scan.badLines, scan.rows));
  if (scan.layoutHint) summary.notes.push(scan.layoutHint);
  return { summary, skipped, skippedCount: scan.problemCount };
}

/**
 * The multi-threaded path, for a large log that declares num_experts (so every part tallies into
 * same-shaped arrays). Returns null whenever it cannot vouch for the log: not eligible, a meta
 * line it does not accept, any bad line, duplicate or missing row; the caller then rescans.
 * Exported for tests; callers use analyseRoutesFile.
 */
export async function analyseInParallel(file: string, opts: AnalyseOptions): Promise<HistSummary | null> {
  const plan = await parallelPlan(file, threadCount(opts), opts.parallelMinBytes);
  if (plan === null || plan.meta.num_experts === undefined) {
    void opts.worker?.terminate();
    return null;
  }
  const { meta, size } = plan;
  const selected = selectedLayers(file, meta, opts.layers);

  const tally = new RouteTally(selected, meta.num_experts, meta.layers_logged, true, hasWeights(meta));
  const merged = await scanRangesInParallel(file, plan, {
    selected,
    onRow: (row, req, li) => tally.add(row, req, li),
    onPart: (t, reqMap) => tally.mergeFrom(t.tally!, reqMap),
    worker: opts.worker,
    // The parts are read at about the same speed: this thread's share stands for the whole.
    onProgress: opts.onProgress && ((done) => opts.onProgress!(Math.min(size, done * plan.ranges.length), size)),
  });
  if (merged === null) return null;
  return buildSummary({
    meta,
    tally,
    requests: merged.coverage.requests(),
    rows: merged.rows,
    skippedLines: 0,
    source: { file: path.basename(file), bytes: size },
  });
}

/**
 * Scans a plan's ranges at once, the first on this thread (its rows to `onRow`) and the rest on
 * range workers (tallying when `onPart` is given, which gets each worker's outcome with the map of
 * its request indices to the merged ones), and merges their coverage. Null when the parts cannot
 * vouch for the log: a part not clean, a row repeated across parts, a limit crossed, or rows
 * missing; the caller then runs the sequential scan, which words what is wrong.
 */
export async function scanRangesInParallel(
  file: string,
  plan: ParallelPlan,
  opts: {
    selected: boolean[];
    onRow?: OnRow;
    onPart?: (outcome: RangeOutcome, reqMap: number[]) => void;
    worker?: Worker | null;
    onProgress?: (done: number) => void;
  },
): Promise<{ coverage: RowCoverage; rows: number; lines: number } | null> {
  const { meta, ranges } = plan;
  const own = (
    plan.parquet
      ? scanParquetRange(file, meta, ranges[0]!, opts.onRow)
      : scanRouteRange(file, meta, ranges[0]!, opts.onRow, undefined, undefined, opts.onProgress)
  ).catch(() => null);
  const others = ranges
    .slice(1)
    .map((range, i) =>
      runRangeWorker(
        { file, meta, range, parquet: plan.parquet, selected: opts.selected, tally: opts.onPart !== undefined },
        i === 0 ? opts.worker : null,
      ),
    );
  const [mine, ...theirs] = await Promise.all([own, ...others]);
  if (!mine || !mine.ok || theirs.some((t) => t === null || !t.ok)) return null;
  const coverage = mine.acceptor.coverage;
  let rows = mine.rows;
  let lines = mine.lines;
  for (const t of theirs as RangeOutcome[]) {
    let reqMap: number[] | null;
    try {
      reqMap = coverage.mergeFrom(t.coverage);
    } catch {
      return null; // over a limit of limits.ts: the sequential scan says where
    }
    if (reqMap === null) return null; // a row repeated across parts
    opts.onPart?.(t, reqMap);
    rows += t.rows;
    lines += t.lines;
  }
  if (coverage.missingRows().length > 0) return null;
  return { coverage, rows, lines };
}

export interface ParallelPlan {
  meta: RoutesMeta;
  /** Byte ranges after the meta line, cut at line boundaries; for Parquet, row groups [start, end). */
  ranges: ByteRange[];
  parquet: boolean;
  size: number;
}

/** A Parquet log's rows per byte of the same log as JSONL (the synthetic bench log: 200.7 MB,
 * 1,161,336 rows): the JSONL size threshold in rows. */
const JSONL_BYTES_PER_ROW = 173;

/**
 * How to split a log across threads, or null when it should be scanned sequentially: one thread,
 * a small or .partial file, or a first line that is not an accepted meta line (the sequential
 * scan words what is wrong).
 */
export async function parallelPlan(
  file: string,
  threads: number,
  minBytes = PARALLEL_MIN_BYTES,
): Promise<ParallelPlan | null> {
  if (threads < 2 || file.endsWith(".partial") || !isSeekable(file)) return null;
  let size: number;
  try {
    const st = await stat(file);
    if (!st.isFile()) return null;
    size = st.size;
  } catch {
    return null;
  }
  if (await isParquetFile(file)) {
    const split = await parquetGroupRanges(file, threads, minBytes / JSONL_BYTES_PER_ROW);
    if (split === null) return null;
    const parsed = MetaSchema.safeParse(split.meta);
    return parsed.success ? { meta: parsed.data, ranges: split.ranges, parquet: true, size: split.size } : null;
  }
  if (size < minBytes) return null;
  // Any trouble reading is left to the sequential scan, which words it.
  const first = await readFirstLine(file, DEFAULT_MAX_LINE_BYTES).catch(() => null);
  if (first === null || !isUtf8(first.text)) return null;
  let metaValue: unknown;
  try {
    metaValue = JSON.parse(first.text.toString("utf8").replace(/^\uFEFF/, "")); // a BOM, as scan.ts skips it
  } catch {
    return null;
  }
  const parsed = MetaSchema.safeParse(metaValue);
  if (!parsed.success) return null;
  const ranges = await splitAtLines(file, first.end, size, threads).catch(() => []);
  if (ranges.length < 2) return null;
  return { meta: parsed.data, ranges, parquet: false, size };
}

/** Resolves to the worker's outcome, or null if it failed in any way (the caller rescans). */
export function runRangeWorker(job: RangeJob, started?: Worker | null): Promise<RangeOutcome | null> {
  return new Promise((resolve) => {
    const worker = started ?? newRangeWorker();
    worker.ref(); // an early-started worker was unref'd until it had work
    worker.postMessage(job);
    let outcome: RangeOutcome | null = null;
    worker.once("message", (m: RangeOutcome) => (outcome = m));
    worker.once("error", () => resolve(null));
    worker.once("exit", () => resolve(outcome));
  });
}
