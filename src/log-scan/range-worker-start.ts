// Starting the range worker of a parallel scan as early as possible: a light module (no zod, no
// scan), so that `validate` and `hist` can start the worker thread before they load the scan
// themselves, and the two threads load their code at the same time. Measured: APPENDIX.md
// "Benchmark: hist and validate against DuckDB and polars".
import { statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { isSeekable } from "../routes/log-source.js";

/** Below this size one thread is as fast as several (worker start-up costs ~0.1 s). */
export const PARALLEL_MIN_BYTES = 32 * 1024 * 1024;
/** Each worker adds ~50-70 MB of heap: two threads stay well inside the 300 MB RSS target (4 reach ~285 MB). */
export const MAX_THREADS = 2;

export function threadCount(opts: { threads?: number }): number {
  const env = Number(process.env.MOE_PROF_THREADS);
  const want = opts.threads ?? (Number.isInteger(env) && env > 0 ? env : Math.min(availableParallelism(), MAX_THREADS));
  return Math.max(1, want);
}

export function newRangeWorker(): Worker {
  return new Worker(new URL("./analyse-range-worker.js", import.meta.url));
}

/**
 * A range worker started now, waiting for its job, when the file is large enough to be split
 * (null otherwise). The caller hands it to the parallel scan, which uses or stops it.
 */
export function startRangeWorker(
  file: string,
  opts: { threads?: number; parallelMinBytes?: number } = {},
): Worker | null {
  if (threadCount(opts) < 2 || file.endsWith(".partial")) return null;
  try {
    const st = statSync(file);
    if (!st.isFile() || st.size < (opts.parallelMinBytes ?? PARALLEL_MIN_BYTES)) return null;
  } catch {
    return null;
  }
  if (!isSeekable(file)) return null; // compressed or stdin: read as a stream, on this thread
  const w = newRangeWorker();
  w.unref(); // idle until it gets a job: never what keeps the process alive
  return w;
}
