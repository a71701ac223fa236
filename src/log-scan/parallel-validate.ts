// `validate` of a large log on several threads: the same byte ranges and range scan as the
// parallel `hist`, without the tally. It vouches only for a valid log: any problem (a bad line,
// a duplicate across parts, a missing row) returns null and the caller runs the sequential scan,
// which finds and words it exactly as before.
import { scanRouteRange } from "../routes/scan-rows.js";
import type { ScanResult } from "../routes/scan.js";
import type { Worker } from "node:worker_threads";
import { parallelPlan, runRangeWorker, threadCount, type RangeOutcome } from "./analyse-routes.js";

export async function validateInParallel(
  file: string,
  opts: { threads?: number; parallelMinBytes?: number; worker?: Worker | null } = {},
): Promise<ScanResult | null> {
  const plan = await parallelPlan(file, threadCount(opts), opts.parallelMinBytes);
  if (plan === null) {
    void opts.worker?.terminate();
    return null;
  }
  const { meta, ranges, size } = plan;
  const selected = meta.layers_logged.map(() => true);
  const own = scanRouteRange(file, meta, ranges[0]!).catch(() => null);
  const others = ranges
    .slice(1)
    .map((range, i) => runRangeWorker({ file, meta, range, selected, tally: false }, i === 0 ? opts.worker : null));
  const [mine, ...theirs] = await Promise.all([own, ...others]);
  if (!mine || !mine.ok || theirs.some((t) => t === null || !t.ok)) return null;
  const coverage = mine.acceptor.coverage;
  let rows = mine.rows;
  let lines = 1 + mine.lines;
  for (const t of theirs as RangeOutcome[]) {
    let merged: number[] | null;
    try {
      merged = coverage.mergeFrom(t.coverage);
    } catch {
      return null; // over a limit of limits.ts: the sequential scan says where
    }
    if (merged === null) return null; // a row repeated across parts
    rows += t.rows;
    lines += t.lines;
  }
  if (coverage.missingRows().length > 0) return null;
  return {
    file,
    bytes: size,
    lines,
    meta,
    rows,
    badLines: 0,
    problems: [],
    messages: [],
    problemCount: 0,
    requests: coverage.requests(),
    partial: false,
    overLimit: null,
    layoutHint: null,
    batches: null,
  };
}
