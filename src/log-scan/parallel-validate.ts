// `validate` of a large log on several threads: the same byte ranges and range scan as the
// parallel `hist`, without the tally. It vouches only for a valid log: any problem (a bad line,
// a duplicate across parts, a missing row) returns null and the caller runs the sequential scan,
// which finds and words it exactly as before.
import type { ScanResult } from "../routes/scan.js";
import type { Worker } from "node:worker_threads";
import { parallelPlan, scanRangesInParallel, threadCount } from "./analyse-routes.js";

export async function validateInParallel(
  file: string,
  opts: { threads?: number; parallelMinBytes?: number; worker?: Worker | null } = {},
): Promise<ScanResult | null> {
  const plan = await parallelPlan(file, threadCount(opts), opts.parallelMinBytes);
  if (plan === null) {
    void opts.worker?.terminate();
    return null;
  }
  const { meta, size } = plan;
  const merged = await scanRangesInParallel(file, plan, {
    selected: meta.layers_logged.map(() => true),
    worker: opts.worker,
  });
  if (merged === null) return null;
  return {
    file,
    bytes: size,
    lines: 1 + merged.lines,
    meta,
    rows: merged.rows,
    badLines: 0,
    problems: [],
    messages: [],
    problemCount: 0,
    requests: merged.coverage.requests(),
    partial: false,
    overLimit: null,
    layoutHint: null,
    batches: null,
  };
}
