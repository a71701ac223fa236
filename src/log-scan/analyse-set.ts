// `hist` of several files read as one log (routes/log-set.ts): each file scanned whole, at once on
// the lanes of file-lanes.ts, and the parts merged in file order, as if the files were one log
// written file after file with every req_id prefixed `<label>/`. The first problem in file order is
// the one reported (worded by the sequential scan, under its file's name). Files that do not
// declare num_experts cannot be tallied apart (their expert arrays grow as ids are seen): they are
// read one after another on this thread into one tally instead.
import { RouteTally } from "../analysis/tally.js";
import { buildSummary } from "../analysis/summary.js";
import type { RequestRows } from "../routes/coverage.js";
import type { RoutesMeta } from "../routes/schema.js";
import type { LogSet } from "../routes/log-set.js";
import { metaDisagreement } from "../routes/meta-agreement.js";
import { setNote } from "../routes/read-log-set.js";
import { MAX_REQUESTS, MAX_REQUEST_LAYER_PAIRS } from "../routes/limits.js";
import { logName } from "../routes/log-source.js";
import { scanRoutesFile, lenientNote } from "../routes/scan.js";
import { selectedLayers } from "../routes/read-log.js";
import { UserError, EXIT_INVALID } from "../errors.js";
import { runFileJobs } from "./file-lanes.js";
import type { FileScan } from "./file-part.js";
import { threadCount } from "./range-worker-start.js";
import type { AnalyseResult } from "./analyse-routes.js";

export interface SetOptions {
  layers?: number[];
  lenient?: boolean;
  threads?: number;
}

/** What one file brought, in the order merged. */
interface Share {
  scan: FileScan;
  requests: RequestRows[];
}

function refuseScan(scan: FileScan, lenient: boolean | undefined): void {
  if (scan.meta === null) throw new UserError(scan.messages[0] ?? `${logName(scan.file)}: no meta line`, EXIT_INVALID);
  if (scan.overLimit) throw new UserError(scan.overLimit, EXIT_INVALID);
  if (!lenient && scan.problemCount > 0) throw new UserError(scan.messages[0]!, EXIT_INVALID);
}

function checkAgreement(first: FileScan, scan: FileScan): void {
  const problem = metaDisagreement(logName(first.file), first.meta!, logName(scan.file), scan.meta!);
  if (problem !== null) throw new UserError(problem, EXIT_INVALID);
}

/** The set's requests and request x layer pairs within limits.ts (each file was checked alone). */
function checkLimits(set: LogSet, requests: number, layers: number): void {
  if (requests > MAX_REQUESTS || requests * layers > MAX_REQUEST_LAYER_PAIRS)
    throw new UserError(
      `${set.name}: req_id: ${requests} requests of ${layers} layers in all: over moe-prof's limit of ${MAX_REQUESTS} requests and ${MAX_REQUEST_LAYER_PAIRS} requests x layers (README "Limits"); read fewer files at once`,
      EXIT_INVALID,
    );
}

const prefixed = (set: LogSet, fi: number, rs: RequestRows[]): RequestRows[] =>
  rs.map((q) => ({ ...q, req_id: `${set.files[fi]!.label}/${q.req_id}` }));

export async function analyseRouteSet(set: LogSet, opts: SetOptions = {}): Promise<AnalyseResult> {
  // Merged in file order as the parts come (file-lanes.ts): the first file that fails is the one
  // reported, and no more than a few parts are held at once.
  let first: FileScan | null = null;
  let tally: RouteTally | null = null;
  let oneByOne = false;
  let offset = 0;
  const shares: Share[] = [];
  await runFileJobs(
    set.files.map((f) => ({ kind: "analyse" as const, file: f.path, layers: opts.layers, lenient: opts.lenient })),
    threadCount(opts),
    (fi, p) => {
      if (!p.ok) throw new UserError(p.message, p.exitCode);
      // The model first (as the what-if commands, which check it at the meta line), then the rows.
      if (first !== null && p.scan.meta !== null) checkAgreement(first, p.scan);
      refuseScan(p.scan, opts.lenient);
      const meta = p.scan.meta!;
      if (first === null) {
        first = p.scan;
        if (meta.num_experts === undefined) return (oneByOne = true); // stop: read on this thread instead
        const selected = meta.layers_logged.map((l) => opts.layers === undefined || opts.layers.includes(l));
        tally = new RouteTally(selected, meta.num_experts, meta.layers_logged);
      }
      const n = p.scan.requestCount;
      checkLimits(set, offset + n, meta.layers_logged.length);
      tally!.mergeFrom(
        p.tally!,
        Array.from({ length: n }, (_, r) => offset + r),
      );
      shares.push({ scan: { ...p.scan, requests: null }, requests: prefixed(set, fi, p.scan.requests!) });
      offset += n;
      return false;
    },
  );
  if (oneByOne) return analyseOneByOne(set, opts);
  return summarise(set, (first as FileScan | null)!.meta!, tally!, shares);
}

/** Files without num_experts: one after another on this thread, into one tally. */
async function analyseOneByOne(set: LogSet, opts: SetOptions): Promise<AnalyseResult> {
  let tally: RouteTally | null = null;
  let first: FileScan | null = null;
  let offset = 0;
  const shares: Share[] = [];
  for (const [fi, f] of set.files.entries()) {
    const base = offset;
    const scan = await scanRoutesFile(f.path, {
      mode: opts.lenient ? "lenient" : "first-error",
      onMeta: (m) => {
        if (tally !== null) return;
        const chosen = opts.layers === undefined ? m.layers_logged : selectedLayers(f.path, m, opts.layers);
        tally = new RouteTally(
          m.layers_logged.map((l) => chosen.includes(l)),
          m.num_experts,
          m.layers_logged,
        );
      },
      onRow: (row, req, li) => tally!.add(row, base + req, li),
    });
    const fs: FileScan = { ...scan, requestCount: scan.requests.length };
    if (first !== null && fs.meta !== null) checkAgreement(first, fs);
    refuseScan(fs, opts.lenient);
    first ??= fs;
    checkLimits(set, offset + fs.requestCount, fs.meta!.layers_logged.length);
    shares.push({ scan: fs, requests: prefixed(set, fi, scan.requests) });
    offset += fs.requestCount;
  }
  return summarise(set, first!.meta!, tally!, shares);
}

function summarise(set: LogSet, meta: RoutesMeta, tally: RouteTally, shares: Share[]): AnalyseResult {
  const sum = (f: (s: FileScan) => number) => shares.reduce((a, s) => a + f(s.scan), 0);
  const rows = sum((s) => s.rows);
  const skippedLines = sum((s) => s.badLines);
  const skippedCount = sum((s) => s.problemCount);
  const summary = buildSummary({
    meta,
    tally,
    requests: shares.flatMap((s) => s.requests),
    rows,
    skippedLines,
    source: { file: set.name, bytes: sum((s) => s.bytes) },
  });
  summary.source.files = shares.map((s, i) => ({
    file: logName(set.files[i]!.path),
    label: set.files[i]!.label,
    bytes: s.scan.bytes,
    rows: s.scan.rows,
    requests: s.scan.requestCount,
  }));
  summary.notes.unshift(setNote(set));
  if (skippedCount > 0) summary.notes.push(lenientNote(skippedCount, skippedLines, rows));
  for (const s of shares) if (s.scan.layoutHint) summary.notes.push(`${logName(s.scan.file)}: ${s.scan.layoutHint}`);
  return { summary, skipped: shares.flatMap((s) => s.scan.messages).slice(0, 50), skippedCount };
}
