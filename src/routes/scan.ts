// One streaming pass over a routes log: line reading, JSON, schema, duplicates and cross-layer
// coverage. Accepted rows are handed to `onRow` (analysis), so `hist` reads the file once.
import { stat } from "node:fs/promises";
import { readLines, DEFAULT_MAX_LINE_BYTES, type ByteRange } from "./line-reader.js";
import { MetaSchema, routeSchema, routeRulesFromMeta, firstSchemaProblem, type RoutesMeta } from "./schema.js";
import { makeRouteCheck, type CheckedRoute, type RouteCheck } from "./route-check.js";
import { RowCoverage, type RequestRows } from "./coverage.js";
import { LimitExceeded } from "./limits.js";
import { BatchGrouping, seedLayoutHint } from "./seed-layout.js";
import { FastRouteLines, fastScanEnabled } from "./fast-row.js";
import { isParquetFile, readParquetRows, PARQUET_META_KEY } from "./parquet-read.js";
import { namedRow, RejectedRows, missingRowsExcept } from "./missing-rows.js";
import { envError } from "../errors.js";

export interface RouteProblem {
  line: number | null;
  field: string | null;
  what: string;
  /** Parquet input: `line` is a row number (1-based), printed as "row N". */
  row?: true;
}

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
  onRow?: (row: CheckedRoute, req: number, layerIdx: number) => void;
  /** Group rows into the batches they were written in instead of by req_id (seed-layout.ts). */
  asBatches?: boolean;
  /** Try the byte scanner (fast-row.ts) before JSON.parse (default: on unless MOE_PROF_FAST_SCAN=0). */
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
  problems: RouteProblem[];
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

export function formatProblem(file: string, p: RouteProblem): string {
  const where = p.line === null ? file : p.row ? `${file}: row ${p.line}` : `${file}:${p.line}`;
  return p.field ? `${where}: ${p.field}: ${p.what}` : `${where}: ${p.what}`;
}

/** Finds the key whose value is NaN/Infinity in a line JSON.parse rejected, for the message. */
function nonFiniteField(text: string): string | null {
  const m = /(?:^|[^A-Za-z"])(-?Infinity|NaN)(?![A-Za-z"])/.exec(text);
  if (!m) return null;
  const before = text.slice(0, m.index + 1);
  const keys = [...before.matchAll(/"([^"\\]+)"\s*:/g)];
  return keys.length ? keys[keys.length - 1]![1]! : "(line)";
}

/** Rows that pass the fast check go to coverage (duplicate detection) and then to `onRow`. */
export class RouteAcceptor {
  readonly coverage: RowCoverage;
  readonly check: RouteCheck;
  readonly layerIndex: Int32Array;
  rows = 0;

  constructor(
    meta: RoutesMeta,
    private readonly onRow?: (row: CheckedRoute, req: number, layerIdx: number) => void,
    readonly batches: BatchGrouping | null = null,
  ) {
    this.check = makeRouteCheck(routeRulesFromMeta(meta));
    this.coverage = new RowCoverage(meta.layers_logged);
    this.layerIndex = new Int32Array(Math.max(...meta.layers_logged) + 1).fill(-1);
    meta.layers_logged.forEach((l, i) => (this.layerIndex[l] = i));
  }

  /** Set when accept() answered "limit": the log crosses one of limits.ts (the scan stops there). */
  limit: LimitExceeded | null = null;

  /** "ok", "invalid" (not a valid route line: word it with the schema), "duplicate" or "limit". */
  accept(value: unknown): "ok" | "invalid" | "duplicate" | "limit" {
    if (!this.check(value)) return "invalid";
    let req: number;
    let li: number;
    try {
      req = this.coverage.requestIndex(this.batches ? this.batches.key(value.req_id, value.layer, value.token_idx) : value.req_id);
      li = this.layerIndex[value.layer]!;
      if (!this.coverage.add(req, li, value.token_idx)) return "duplicate";
    } catch (err) {
      if (!(err instanceof LimitExceeded)) throw err;
      this.limit = err;
      return "limit";
    }
    this.rows++;
    this.onRow?.(value, req, li);
    return "ok";
  }

  /** The fast path's request index of a req_id; null past a limit of limits.ts (the slow path
   * then finds and reports it). Not used with batches (their key needs layer and position). */
  fastRequestIndex(reqId: string): number | null {
    try {
      return this.coverage.requestIndex(reqId);
    } catch (err) {
      if (err instanceof LimitExceeded) return null;
      throw err;
    }
  }

  /** A row the byte scanner found valid; false for a duplicate or past a limit (the slow path
   * then reads the line again and words it). */
  acceptChecked(row: CheckedRoute, req: number): boolean {
    const li = this.layerIndex[row.layer]!;
    try {
      if (!this.coverage.add(req, li, row.token_idx)) return false;
    } catch (err) {
      if (err instanceof LimitExceeded) return false;
      throw err;
    }
    this.rows++;
    this.onRow?.(row, req, li);
    return true;
  }
}

/** The file could not be opened or read (EACCES, EIO, EISDIR, ...): environment, exit 2. An
 * error about another file (the scanner's .wasm, say) is not the log's and goes on as it is. */
function readFailure(file: string, e: unknown): Error {
  const err = e as NodeJS.ErrnoException;
  if (err.path !== undefined && err.path !== file) return err;
  return err.code ? envError(`${file}: cannot read: ${err.code}`) : err;
}

function duplicateMessage(v: CheckedRoute, hint: string | null): string {
  return `duplicate row: req_id ${JSON.stringify(v.req_id)}, token_idx ${v.token_idx}, layer ${v.layer} already seen${hint ? `; ${hint}` : ""}`;
}

export interface RangeScan {
  /** False at the first line that is not an accepted route row (the caller rescans to word it). */
  ok: boolean;
  rows: number;
  lines: number;
  acceptor: RouteAcceptor;
}

/**
 * Scans route lines in a byte range of a log whose meta line is already known, stopping at the
 * first problem without describing it. Used to split a large valid log across threads; any
 * problem sends the caller back to the sequential scan, which reports it with its line number.
 */
export async function scanRouteRange(
  file: string,
  meta: RoutesMeta,
  range: ByteRange,
  onRow?: (row: CheckedRoute, req: number, layerIdx: number) => void,
  maxLineBytes = DEFAULT_MAX_LINE_BYTES,
  fastPath = fastScanEnabled(),
): Promise<RangeScan> {
  const acceptor = new RouteAcceptor(meta, onRow);
  const fast = fastPath ? FastRouteLines.create(routeRulesFromMeta(meta), acceptor) : null;
  let ok = true;
  const read = await readLines(
    file,
    {
      get stopped() {
        return !ok;
      },
      unreadable() {
        ok = false;
      },
      lines(buf, start, end, firstLineNo) {
        return fast === null ? null : { lines: fast.lines(buf, start, end, firstLineNo, this), next: end };
      },
      line(text) {
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          ok = false;
          return;
        }
        if (acceptor.accept(value) !== "ok") ok = false;
      },
    },
    maxLineBytes,
    range,
  );
  return { ok, rows: acceptor.rows, lines: read.lines, acceptor };
}

export async function scanRoutesFile(file: string, opts: ScanOptions = {}): Promise<ScanResult> {
  const mode = opts.mode ?? "first-error";
  const keep = opts.keepProblems ?? 50;
  let info;
  try {
    info = await stat(file);
  } catch (e) {
    throw readFailure(file, e);
  }
  if (!info.isFile()) throw envError(`${file}: not a regular file`);

  const problems: RouteProblem[] = [];
  let problemCount = 0;
  let badLines = 0;
  let stopped = false;
  // Parquet input (parquet-read.ts): "line" n >= 2 is row n - 1; line 1 is the meta (key-value metadata).
  const parquet = await isParquetFile(file);
  const report = (line: number | null, field: string | null, what: string): void => {
    problemCount++;
    if (problems.length < keep) {
      if (!parquet || line === null) problems.push({ line, field, what });
      else if (line === 1) problems.push({ line: null, field: field === null ? PARQUET_META_KEY : `${PARQUET_META_KEY} ${field}`, what });
      else problems.push({ line: line - 1, field, what, row: true });
    }
    if (mode === "first-error") stopped = true;
  };

  const partial = file.endsWith(".partial");
  if (partial) report(null, null, "file name ends in .partial: the log is incomplete (still being written, or left by a crash)");

  let overLimit: string | null = null;
  let layoutHint: string | null = null;
  let meta: RoutesMeta | null = null;
  let acceptor: RouteAcceptor | null = null;
  let schema: ReturnType<typeof routeSchema> | null = null;
  let fast: FastRouteLines | null = null;
  let rejected: RejectedRows | null = null;

  const sink = {
    get stopped() {
      return stopped;
    },
    lines(buf: Buffer, start: number, end: number, firstLineNo: number) {
      if (fast === null) {
        if (firstLineNo !== 1) return null;
        // Line 1 (the meta line) the usual way; the rest of the chunk then through the fast path.
        const nl = buf.indexOf(10, start);
        this.line(buf.toString("utf8", start, nl), 1, true);
        if (stopped || fast === null) return { lines: 1, next: nl + 1 };
        return { lines: 1 + (fast as FastRouteLines).lines(buf, nl + 1, end, 2, this), next: end };
      }
      return { lines: fast.lines(buf, start, end, firstLineNo, this), next: end };
    },
    unreadable(lineNo: number, what: string) {
      badLines++;
      if (lineNo === 1) stopped = true; // without a meta line nothing else can be checked
      report(lineNo, null, what);
    },
    line(text: string, lineNo: number, terminated: boolean) {
      // A UTF-8 byte-order mark some editors put first is not part of the JSON (RFC 8259 lets
      // readers ignore it): skipped.
      if (lineNo === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        badLines++;
        if (lineNo === 1) stopped = true; // without a meta line nothing else can be checked
        if (!terminated) return report(lineNo, null, "truncated file: the last line ends without a newline and is not complete JSON");
        if (text.trim() === "") return report(lineNo, null, "blank line");
        const nf = nonFiniteField(text);
        if (nf) return report(lineNo, nf, "NaN/Infinity is not valid JSON (write finite numbers)");
        return report(lineNo, null, "not valid JSON");
      }
      this.value(value, lineNo);
    },
    /** A parsed line (or a Parquet row as the same value): the rules from here on. */
    value(value: unknown, lineNo: number) {
      if (acceptor !== null) {
        const verdict = acceptor.accept(value);
        if (verdict === "ok") return;
        if (verdict === "duplicate") {
          badLines++;
          const hint = layoutHint === null ? seedLayoutHint(acceptor.coverage, (value as CheckedRoute).token_idx) : null;
          layoutHint ??= hint;
          return report(lineNo, null, duplicateMessage(value as CheckedRoute, hint));
        }
        if (verdict === "limit") {
          // Not a bad line to skip: the log is beyond what moe-prof holds in memory. Refused in every mode.
          badLines++;
          report(lineNo, acceptor.limit!.field, acceptor.limit!.message);
          stopped = true;
          overLimit = formatProblem(file, { line: lineNo, field: acceptor.limit!.field, what: acceptor.limit!.message });
          return;
        }
      }
      badLines++;
      const wasStopped = stopped;
      if (lineNo === 1) stopped = true; // without a meta line nothing else can be checked
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        return report(lineNo, null, `not a JSON object (got ${value === null ? "null" : Array.isArray(value) ? "an array" : typeof value})`);
      }
      const type = (value as { type?: unknown }).type;
      if (lineNo === 1) {
        if (type !== "meta") {
          return report(lineNo, "type", `line 1 must be the meta line ({"type":"meta", ...}), got ${JSON.stringify(type) ?? "no type"}`);
        }
        const problem = firstSchemaProblem(MetaSchema, value);
        if (problem) return report(lineNo, problem[0], problem[1]);
        badLines--;
        stopped = wasStopped;
        meta = MetaSchema.parse(value);
        schema = routeSchema(routeRulesFromMeta(meta));
        acceptor = new RouteAcceptor(meta, opts.onRow, opts.asBatches ? new BatchGrouping() : null);
        // Batches key rows by layer and position too: they stay on the general path.
        if ((opts.fastPath ?? fastScanEnabled()) && !opts.asBatches) fast = FastRouteLines.create(routeRulesFromMeta(meta), acceptor);
        opts.onMeta?.(meta);
        return;
      }
      if (type === "meta") return report(lineNo, "type", "a second meta line: the meta line must appear once, on line 1");
      if (schema === null) {
        // Only reachable if line 1 failed and reading went on anyway; there is nothing to check against.
        stopped = true;
        return report(lineNo, null, "no valid meta line to check this line against");
      }
      const problem = firstSchemaProblem(schema, value);
      if (problem === null) {
        // Unreachable unless the fast check and the schema disagree; say so rather than accept silently.
        return report(lineNo, null, "rejected by the fast route check but accepted by the schema (moe-prof bug)");
      }
      // A bad line that still names its row is not reported again as that row missing from its layer.
      const named = acceptor === null ? null : namedRow(value, acceptor.layerIndex);
      if (named !== null) (rejected ??= new RejectedRows((meta as RoutesMeta | null)!.layers_logged)).add(named);
      return report(lineNo, problem[0], problem[1]);
    },
  };

  const read = await (parquet
    ? readParquetRows(file, {
        value: (v, lineNo) => sink.value(v, lineNo),
        fileProblem: (what) => {
          stopped = true;
          report(null, null, what);
        },
        get stopped() {
          return stopped;
        },
      })
    : readLines(file, sink, opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES)
  ).catch((e) => {
    throw readFailure(file, e);
  });
  if (!stopped) {
    if (read.bytes === 0) report(null, null, "empty file: expected a meta line and route rows");
    // A log of only its meta line is not something hist could analyse: both commands say so.
    else if (meta !== null && read.lines === 1) report(null, null, "no route rows: the log holds only its meta line (nothing was logged)");
  }
  // Assigned inside the sink callbacks, which TypeScript's narrowing cannot see.
  const cov = (acceptor as RouteAcceptor | null)?.coverage ?? null;
  if (!stopped && cov !== null) {
    for (const m of missingRowsExcept(cov, rejected, (meta as RoutesMeta | null)!.layers_logged)) {
      if (stopped) break;
      const more = m.missing > 1 ? ` (and ${m.missing - 1} more positions of this request)` : "";
      report(null, `layer ${m.layer}`, `missing row req_id ${JSON.stringify(m.req_id)}, token_idx ${m.token_idx}, present in other layers${more}`);
    }
  }
  return {
    file,
    bytes: read.bytes,
    lines: read.lines,
    meta: meta as RoutesMeta | null,
    rows: (acceptor as RouteAcceptor | null)?.rows ?? 0,
    badLines,
    problems,
    problemCount,
    requests: cov?.requests() ?? [],
    partial,
    overLimit,
    layoutHint,
    batches: (acceptor as RouteAcceptor | null)?.batches?.batches ?? null,
  };
}
