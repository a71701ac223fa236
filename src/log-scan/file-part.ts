// One file of a log set (routes/log-set.ts), scanned whole by the sequential scan (the same rules
// and messages as for one log) on whichever thread runs it: `analyse` tallies it for hist,
// `validate` only checks it. What comes back is plain data (structured clone), merged in file
// order by analyse-set.ts or reported per file by validate.
import { scanRoutesFile, type ScanResult } from "../routes/scan.js";
import { RouteTally, type TallyState } from "../analysis/tally.js";
import type { RoutesMeta } from "../routes/schema.js";
import { selectedLayers } from "../routes/read-log.js";
import { UserError } from "../errors.js";

export type FileJob =
  | { kind: "analyse"; file: string; layers?: number[]; lenient?: boolean }
  | { kind: "validate"; file: string; allErrors?: boolean };

/** A scan's result without its per-request detail when only counts are wanted. */
export type FileScan = Omit<ScanResult, "requests"> & { requests: ScanResult["requests"] | null; requestCount: number };

export type FilePart =
  | { ok: true; scan: FileScan; tally: TallyState | null }
  /** A UserError raised while scanning (a usage error, an unreadable file): its message and exit code. */
  | { ok: false; message: string; exitCode: number };

export async function runFileJob(job: FileJob): Promise<FilePart> {
  try {
    return job.kind === "analyse" ? await analysePart(job) : await validatePart(job);
  } catch (e) {
    if (e instanceof UserError) return { ok: false, message: e.message, exitCode: e.exitCode };
    throw e;
  }
}

async function analysePart(job: Extract<FileJob, { kind: "analyse" }>): Promise<FilePart> {
  let tally: RouteTally | null = null;
  const scan = await scanRoutesFile(job.file, {
    mode: job.lenient ? "lenient" : "first-error",
    onMeta: (meta: RoutesMeta) => {
      const chosen = job.layers === undefined ? meta.layers_logged : selectedLayers(job.file, meta, job.layers);
      tally = new RouteTally(
        meta.layers_logged.map((l) => chosen.includes(l)),
        meta.num_experts,
        meta.layers_logged,
      );
    },
    onRow: (row, req, li) => tally!.add(row, req, li),
  });
  const t = tally as RouteTally | null; // assigned in onMeta, which TypeScript's narrowing cannot see
  return { ok: true, scan: { ...scan, requestCount: scan.requests.length }, tally: t?.exportState() ?? null };
}

async function validatePart(job: Extract<FileJob, { kind: "validate" }>): Promise<FilePart> {
  const scan = await scanRoutesFile(job.file, { mode: job.allErrors ? "all-errors" : "first-error" });
  // validate reports counts only: the per-request detail stays in the worker.
  return { ok: true, scan: { ...scan, requests: null, requestCount: scan.requests.length }, tally: null };
}
