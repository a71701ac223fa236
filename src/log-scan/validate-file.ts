// Whole-file validation as a function (used by `validate`).
import type { Worker } from "node:worker_threads";
import { scanRoutesFile, type ScanResult } from "../routes/scan.js";
import { validateInParallel } from "./parallel-validate.js";

export interface ValidateOptions {
  /** Keep going after the first problem and count them all. */
  allErrors?: boolean;
  maxLineBytes?: number;
  /** Threads for a large log (default as for hist: MOE_PROF_THREADS, else up to 2). */
  threads?: number;
  parallelMinBytes?: number;
  /** A range worker started early (range-worker-start.ts). */
  worker?: Worker | null;
}

export interface ValidationReport {
  valid: boolean;
  scan: ScanResult;
  /** Problems as `FILE:LINE: field: what`, the first ones in full (see scan.problemCount for all). */
  errors: string[];
}

export async function validateRoutesFile(file: string, opts: ValidateOptions = {}): Promise<ValidationReport> {
  // A large valid log is read on several threads; anything else (and any problem) sequentially.
  if (opts.maxLineBytes !== undefined) void opts.worker?.terminate();
  const fast = opts.maxLineBytes === undefined ? await validateInParallel(file, opts) : null;
  if (fast !== null) return { valid: true, scan: fast, errors: [] };
  const scan = await scanRoutesFile(file, {
    mode: opts.allErrors ? "all-errors" : "first-error",
    maxLineBytes: opts.maxLineBytes,
  });
  return { valid: scan.problemCount === 0, scan, errors: scan.messages };
}
