// The what-if commands' read of several files as one log (log-set.ts): each file through
// readRoutesLog in turn, into one sink, as if the files were one log written file after file.
// Request indices continue from file to file and every req_id becomes `<label>/<req_id>`, so
// requests of different files stay apart. The files must agree on the model (meta-agreement.ts).
// A set of one file is read exactly as before.
import { statSync } from "node:fs";
import { readRoutesLog, type LogRead, type RowSink, type FileShare } from "./read-log.js";
import type { LogSet } from "./log-set.js";
import type { RoutesMeta } from "./schema.js";
import type { CheckedRoute } from "./route-check.js";
import { metaDisagreement } from "./meta-agreement.js";
import { logName } from "./log-source.js";
import { UserError, EXIT_INVALID } from "../errors.js";

export interface ReadOptions {
  lenient?: boolean;
  layers?: number[];
  onProgress?: (done: number, total: number | null) => void;
}

/** The note every output of a set carries: how its req_ids were kept apart. */
export function setNote(set: LogSet): string {
  const labels = set.files.map((f) => f.label);
  const shown =
    labels.length > 6 ? `${labels.slice(0, 5).join(", ")}, ... ${labels[labels.length - 1]}` : labels.join(", ");
  return `read as one log: ${set.files.length} files; each req_id is prefixed with its file's label as <label>/<req_id> (labels: ${shown})`;
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** Feeds the rows of a set's files, file after file, into one sink: request indices continue
 * from file to file, req_ids get their file's label. */
class SetFeeder {
  private first: { file: string; meta: RoutesMeta } | null = null;
  analysed: RoutesMeta | null = null;
  readonly reads: LogRead[] = [];
  private offset = 0;
  private names: string[] = [];
  private prefix = "";

  constructor(
    private readonly set: LogSet,
    private readonly sink: RowSink,
  ) {}

  /** A file's meta line as logged: must agree with the first file's. */
  checkMeta(fi: number, meta: RoutesMeta): void {
    const file = logName(this.set.files[fi]!.path);
    if (this.first === null) this.first = { file, meta };
    else {
      const problem = metaDisagreement(this.first.file, this.first.meta, file, meta);
      if (problem !== null) throw new UserError(problem, EXIT_INVALID);
    }
  }

  /** A file's rows begin (its meta line as analysed, --layers applied). */
  start(fi: number, analysed: RoutesMeta): void {
    this.names = [];
    this.prefix = `${this.set.files[fi]!.label}/`;
    if (fi === 0) {
      this.analysed = analysed;
      this.sink.onMeta?.(analysed);
    }
  }

  row(row: CheckedRoute, req: number, li: number): void {
    let id = this.names[req];
    if (id === undefined) id = this.names[req] = this.prefix + row.req_id;
    row.req_id = id;
    this.sink.onRow(row, this.offset + req, li);
  }

  done(read: LogRead): void {
    this.reads.push(read);
    this.offset += read.requests.length;
  }
}

export async function readRoutesLogSet(set: LogSet, opts: ReadOptions, sink: RowSink): Promise<LogRead> {
  if (set.files.length === 1) return readRoutesLog(set.files[0]!.path, opts, sink);
  const { lenientNote } = await import("./scan.js");
  const feeder = new SetFeeder(set, sink);
  const sizes = set.files.map((f) => sizeOf(f.path));
  const total = sizes.reduce((a, b) => a + b, 0);
  let before = 0;
  for (const [fi, f] of set.files.entries()) {
    const read = await readRoutesLog(
      f.path,
      {
        lenient: opts.lenient,
        layers: opts.layers,
        onProgress: opts.onProgress && ((done) => opts.onProgress!(before + done, total)),
        onLogMeta: (meta) => feeder.checkMeta(fi, meta),
      },
      { onMeta: (meta) => feeder.start(fi, meta), onRow: (row, req, li) => feeder.row(row, req, li) },
    );
    feeder.done(read);
    before += sizes[fi]!;
  }
  return mergeReads(set, feeder.reads, feeder.analysed!, lenientNote);
}

/** One LogRead for the whole set: rows, requests (with prefixed ids) and problems in file order. */
function mergeReads(
  set: LogSet,
  reads: LogRead[],
  meta: RoutesMeta,
  lenientNote: (problems: number, lines: number, rows: number) => string,
): LogRead {
  const sum = (f: (r: LogRead) => number) => reads.reduce((a, r) => a + f(r), 0);
  const declared = reads[0]!.numExpertsSource === "meta";
  const numExperts = Math.max(...reads.map((r) => r.numExperts));
  const files: FileShare[] = reads.map((r, i) => ({
    file: logName(set.files[i]!.path),
    label: set.files[i]!.label,
    bytes: r.bytes,
    rows: r.rows,
    requests: r.requests.length,
  }));
  const requests = reads.flatMap((r, i) =>
    r.requests.map((q) => ({ ...q, req_id: `${set.files[i]!.label}/${q.req_id}` })),
  );
  const skippedCount = sum((r) => r.skippedCount);
  const skippedLines = sum((r) => r.skippedLines);
  const rows = sum((r) => r.rows);
  const notes = [setNote(set)];
  if (!declared)
    notes.push(
      `num_experts is not in the meta line: using max expert id + 1 = ${numExperts} (experts above it that were never used cannot be seen)`,
    );
  // The --layers note is the same for every file (they agree on layers_logged).
  notes.push(...reads[0]!.notes.filter((n) => n.startsWith("--layers:")));
  const scannedRows = sum((r) => r.scannedRows);
  const lenientSummary = skippedCount > 0 ? lenientNote(skippedCount, skippedLines, scannedRows) : null;
  if (lenientSummary !== null) notes.push(lenientSummary);
  return {
    file: set.name,
    meta,
    rows,
    scannedRows,
    bytes: sum((r) => r.bytes),
    requests,
    numExperts,
    numExpertsSource: declared ? "meta" : "max_id_plus_1",
    skippedLines,
    skipped: reads.flatMap((r) => r.skipped).slice(0, 50),
    skippedCount,
    notes,
    lenientSummary,
    files,
  };
}
