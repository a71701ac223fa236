// The row loop of the scan: every line after the meta line, checked against the meta's rules.
// Accepted rows go to coverage (duplicates, and at the end rows missing from some layers) and then
// to `onRow`; rejected ones are worded by the schema into the scan's Problems. Lines of the shape
// the capture writes take the WebAssembly fast path (fast-scan/), which only ever accepts.
import { readLines, DEFAULT_MAX_LINE_BYTES, type ByteRange } from "./line-reader.js";
import { routeSchema, routeRulesFromMeta, firstSchemaProblem, type RoutesMeta } from "./schema.js";
import { makeRouteCheck, type CheckedRoute, type RouteCheck } from "./route-check.js";
import { RowCoverage } from "./coverage.js";
import { LimitExceeded } from "./limits.js";
import { BatchGrouping, seedLayoutHint } from "./seed-layout.js";
import { FastRouteLines, fastScanEnabled, type SlowLine } from "./fast-scan/fast-row.js";
import { namedRow, RejectedRows, missingRowsExcept } from "./missing-rows.js";
import { jsonProblem, notAnObject } from "./scan-line.js";
import type { Problems } from "../problems.js";

export type OnRow = (row: CheckedRoute, req: number, layerIdx: number) => void;

/** Rows that pass the fast check go to coverage (duplicate detection) and then to `onRow`. */
export class RouteAcceptor {
  readonly coverage: RowCoverage;
  readonly check: RouteCheck;
  readonly layerIndex: Int32Array;
  rows = 0;

  constructor(
    meta: RoutesMeta,
    private readonly onRow?: OnRow,
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
      req = this.coverage.requestIndex(
        this.batches ? this.batches.key(value.req_id, value.layer, value.token_idx) : value.req_id,
      );
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

export interface RowLoopOptions {
  onRow?: OnRow;
  /** Group rows into the batches they were written in instead of by req_id (seed-layout.ts). */
  asBatches?: boolean;
  /** Try the byte scanner before JSON.parse (default: on unless MOE_PROF_FAST_SCAN=0). */
  fastPath?: boolean;
}

/** Lines 2 onwards of one log, against the rules of its meta line. */
export class RowLoop {
  readonly acceptor: RouteAcceptor;
  /** The byte scanner, when it can serve these rules (never with batches: their key needs layer and position). */
  readonly fast: FastRouteLines | null;
  /** Set at the first duplicate that looks like the seed capture's layout: what to do about it. */
  layoutHint: string | null = null;
  /** The problem, worded, when the log crosses a limit of limits.ts: refused even by --lenient. */
  overLimit: string | null = null;
  private readonly schema: ReturnType<typeof routeSchema>;
  /** Rows named by lines already reported bad: not reported again as missing from their layer. */
  private rejected: RejectedRows | null = null;

  constructor(
    readonly meta: RoutesMeta,
    private readonly problems: Problems,
    opts: RowLoopOptions,
  ) {
    const rules = routeRulesFromMeta(meta);
    this.schema = routeSchema(rules);
    this.acceptor = new RouteAcceptor(meta, opts.onRow, opts.asBatches ? new BatchGrouping() : null);
    this.fast =
      (opts.fastPath ?? fastScanEnabled()) && !opts.asBatches ? FastRouteLines.create(rules, this.acceptor) : null;
  }

  /** A route line's text. */
  line(text: string, lineNo: number, terminated: boolean): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      const p = jsonProblem(text, terminated);
      return this.problems.rejectLine(lineNo, p.field, p.what);
    }
    this.value(value, lineNo);
  }

  /** A route line parsed (or a Parquet row as the same value). */
  value(value: unknown, lineNo: number): void {
    const verdict = this.acceptor.accept(value);
    if (verdict === "ok") return;
    if (verdict === "duplicate") {
      const row = value as CheckedRoute;
      const hint = this.layoutHint === null ? seedLayoutHint(this.acceptor.coverage, row.token_idx) : null;
      this.layoutHint ??= hint;
      return this.problems.rejectLine(lineNo, null, duplicateMessage(row, hint));
    }
    if (verdict === "limit") {
      // Not a bad line to skip: the log is beyond what moe-prof holds in memory. Refused in every mode.
      const { field, message } = this.acceptor.limit!;
      this.problems.rejectLine(lineNo, field, message);
      this.problems.stop();
      this.overLimit = this.problems.format(lineNo, field, message);
      return;
    }
    const nonObject = notAnObject(value);
    if (nonObject !== null) return this.problems.rejectLine(lineNo, null, nonObject);
    if ((value as { type?: unknown }).type === "meta") {
      return this.problems.rejectLine(lineNo, "type", "a second meta line: the meta line must appear once, on line 1");
    }
    const problem = firstSchemaProblem(this.schema, value);
    if (problem === null) {
      // Unreachable unless the fast check and the schema disagree; say so rather than accept silently.
      return this.problems.rejectLine(
        lineNo,
        null,
        "rejected by the fast route check but accepted by the schema (moe-prof bug)",
      );
    }
    // A bad line that still names its row is not reported again as that row missing from its layer.
    const named = namedRow(value, this.acceptor.layerIndex);
    if (named !== null) (this.rejected ??= new RejectedRows(this.meta.layers_logged)).add(named);
    this.problems.rejectLine(lineNo, problem[0], problem[1]);
  }

  /** Whole lines of a chunk through the byte scanner; those it does not take go to `slow`. */
  fastLines(buf: Buffer, start: number, end: number, firstLineNo: number, slow: SlowLine): number {
    return this.fast!.lines(buf, start, end, firstLineNo, slow);
  }

  /** After the last line: rows present in some layers but missing from others. */
  reportMissingRows(): void {
    for (const m of missingRowsExcept(this.acceptor.coverage, this.rejected, this.meta.layers_logged)) {
      if (this.problems.stopped) break;
      const more = m.missing > 1 ? ` (and ${m.missing - 1} more positions of this request)` : "";
      this.problems.add(
        null,
        `layer ${m.layer}`,
        `missing row req_id ${JSON.stringify(m.req_id)}, token_idx ${m.token_idx}, present in other layers${more}`,
      );
    }
  }
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
  onRow?: OnRow,
  maxLineBytes = DEFAULT_MAX_LINE_BYTES,
  fastPath = fastScanEnabled(),
  /** Bytes of the range read so far. */
  onProgress?: (done: number) => void,
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
      progress: onProgress,
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
