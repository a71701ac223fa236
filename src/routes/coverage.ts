// Which (req_id, token_idx) rows each layer holds: finds duplicates as they arrive and, at the
// end, rows present in some layers but missing from others. Exact (the missing row is named without
// a second pass), and in memory bounded by limits.ts whatever the rows and their order:
//
// - per (request, layer) one run [lo, hi] of positions inline, in typed arrays (20 bytes): the
//   capture writes each request's tokens in order, so a complete layer is one run, and positions
//   arriving one below the run (descending order) extend it too;
// - a pair whose positions have gaps, or arrive out of order with gaps, moves to a RunList
//   (run-list.ts), charged against MAX_EXTRA_POSITION_RUNS: beyond it the log is refused.
import { RunList } from "./run-list.js";
import {
  LimitExceeded,
  MAX_EXTRA_POSITION_RUNS,
  MAX_REQUEST_LAYER_PAIRS,
  MAX_REQUESTS,
  MAX_REQ_ID_CHARS,
} from "./limits.js";

/** Per-request facts the `run` command needs to check conservation (rows per layer, positions). */
export interface RequestRows {
  req_id: string;
  /** Rows per logged layer, in meta.layers_logged order. */
  rows_per_layer: number[];
  /** Distinct token positions over all layers. */
  tokens: number;
  min_token_idx: number;
  max_token_idx: number;
}

export interface MissingRows {
  layer: number;
  req_id: string;
  /** First missing position, and how many positions of this request the layer lacks. */
  token_idx: number;
  missing: number;
}

export interface CoverageState {
  reqIds: string[];
  /** Per slot (request * layers + layer): the inline run, or -1 when empty. */
  lo: Float64Array;
  hi: Float64Array;
  /** Slots kept as RunLists: slot -> flat runs. */
  lists: [number, number[]][];
}

/** What a RunList costs against MAX_EXTRA_POSITION_RUNS, in 16-byte runs: its allocated runs and
 *  ~384 bytes of objects (block headers add ~2% more). */
function listCost(l: RunList): number {
  return l.capacity + 24;
}

export class RowCoverage {
  private readonly reqIndex = new Map<string, number>();
  private readonly reqIds: string[] = [];
  private reqIdChars = 0;
  private readonly L: number;
  private lo = new Float64Array(0);
  private hi = new Float64Array(0);
  /** Per slot: index into `lists`, or -1 while the slot is one inline run. */
  private listOf = new Int32Array(0);
  private readonly lists: RunList[] = [];
  private listsCost = 0;

  /** `limits` only for tests: the defaults are limits.ts's. */
  constructor(
    private readonly layers: readonly number[],
    private readonly limits = {
      requests: MAX_REQUESTS,
      requestLayerPairs: MAX_REQUEST_LAYER_PAIRS,
      reqIdChars: MAX_REQ_ID_CHARS,
      extraRuns: MAX_EXTRA_POSITION_RUNS,
    },
  ) {
    this.L = layers.length;
  }

  /** What the gapped or out-of-order positions cost so far, in 16-byte runs (see MAX_EXTRA_POSITION_RUNS). */
  get extraRunsCharged(): number {
    return this.listsCost;
  }

  get requestCount(): number {
    return this.reqIds.length;
  }

  /** Dense index of a request in first-seen order (analysis keys its per-request state on it). */
  requestIndex(reqId: string): number {
    const known = this.reqIndex.get(reqId);
    if (known !== undefined) return known;
    const r = this.reqIds.length;
    if (r + 1 > this.limits.requests)
      throw new LimitExceeded(
        "req_id",
        `more than ${this.limits.requests} distinct requests: over moe-prof's limit (README "Limits"); split the log by req_id`,
      );
    if ((r + 1) * this.L > this.limits.requestLayerPairs)
      throw new LimitExceeded(
        "req_id",
        `request ${r + 1} with ${this.L} layers logged: over moe-prof's limit of ${this.limits.requestLayerPairs} requests x layers (README "Limits"); split the log by req_id`,
      );
    if (this.reqIdChars + reqId.length > this.limits.reqIdChars)
      throw new LimitExceeded(
        "req_id",
        `the distinct req_id values together exceed ${this.limits.reqIdChars} characters (README "Limits")`,
      );
    this.reqIdChars += reqId.length;
    this.reqIndex.set(reqId, r);
    this.reqIds.push(reqId);
    this.ensureSlots((r + 1) * this.L);
    return r;
  }

  /** Whether request `req` has at least one row in every logged layer. */
  everyLayerHasRows(req: number): boolean {
    for (let li = 0; li < this.L; li++) {
      const slot = req * this.L + li;
      if (this.listOf[slot] === -1 && this.lo[slot]! < 0) return false;
    }
    return true;
  }

  requestId(index: number): string {
    return this.reqIds[index]!;
  }

  private ensureSlots(n: number): void {
    if (n <= this.lo.length) return;
    const size = Math.min(this.limits.requestLayerPairs, Math.max(n, this.lo.length * 2, 64));
    const widen = <T extends Float64Array | Int32Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(size).fill(-1) as T;
      b.set(a);
      return b;
    };
    this.lo = widen(this.lo);
    this.hi = widen(this.hi);
    this.listOf = widen(this.listOf);
  }

  /** Records a row; false when that (request, layer, token_idx) was already recorded. */
  add(req: number, layerIdx: number, t: number): boolean {
    const slot = req * this.L + layerIdx;
    if (this.listOf[slot] === -1) {
      const hi = this.hi[slot]!;
      if (t === hi + 1 && hi >= 0) {
        this.hi[slot] = t; // the common case: the next position
        return true;
      }
    }
    return this.addRange(slot, t, t);
  }

  /** Adds positions [s, e] to a slot; false when any of them is already there. */
  private addRange(slot: number, s: number, e: number): boolean {
    const li = this.listOf[slot]!;
    if (li !== -1) {
      const list = this.lists[li]!;
      const before = listCost(list);
      if (!list.add(s, e)) return false;
      this.charge(listCost(list) - before);
      return true;
    }
    const lo = this.lo[slot]!;
    const hi = this.hi[slot]!;
    if (lo < 0) {
      this.lo[slot] = s;
      this.hi[slot] = e;
      return true;
    }
    if (s <= hi && e >= lo) return false;
    if (s === hi + 1) this.hi[slot] = e;
    else if (e === lo - 1) this.lo[slot] = s;
    else {
      // A gap: this pair's positions move to a RunList.
      const list = new RunList();
      list.add(lo, hi);
      list.add(s, e);
      this.charge(listCost(list));
      this.listOf[slot] = this.lists.length;
      this.lists.push(list);
    }
    return true;
  }

  private charge(cost: number): void {
    this.listsCost += cost;
    if (this.listsCost > this.limits.extraRuns)
      throw new LimitExceeded(
        "token_idx",
        `positions too fragmented: the gaps in token_idx need more than ${this.limits.extraRuns} separate runs of consecutive positions (README "Limits")`,
      );
  }

  /** Requests seen so far, by index. */
  get requestIds(): readonly string[] {
    return this.reqIds;
  }

  /** Index of a request already seen, else undefined (adds nothing). */
  knownRequest(reqId: string): number | undefined {
    return this.reqIndex.get(reqId);
  }

  /** The positions of request `req` in layer index `li` as flat runs [s0, e0, s1, e1, ...]. */
  positions(req: number, li: number): number[] {
    return this.runsOf(req * this.L + li);
  }

  /** The positions of one slot as flat runs [s0, e0, s1, e1, ...]. */
  private runsOf(slot: number): number[] {
    const li = this.listOf[slot]!;
    if (li !== -1) return this.lists[li]!.toFlat();
    const lo = this.lo[slot]!;
    return lo < 0 ? [] : [lo, this.hi[slot]!];
  }

  /** Plain data for moving a coverage between threads (structured clone). */
  exportState(): CoverageState {
    const n = this.reqIds.length * this.L;
    const lists: [number, number[]][] = [];
    for (let slot = 0; slot < n; slot++) if (this.listOf[slot] !== -1) lists.push([slot, this.runsOf(slot)]);
    return { reqIds: this.reqIds, lo: this.lo.slice(0, n), hi: this.hi.slice(0, n), lists };
  }

  /**
   * Adds the rows of another coverage (of a later part of the same file). Returns, per request
   * index of `other`, its index here; or null when both saw some same row (a duplicate).
   * Throws LimitExceeded like `add`.
   */
  mergeFrom(other: CoverageState): number[] | null {
    const L = this.L;
    const map = other.reqIds.map((id) => this.requestIndex(id));
    const theirLists = new Map(other.lists);
    for (let r = 0; r < map.length; r++) {
      for (let li = 0; li < L; li++) {
        const os = r * L + li;
        const runs = theirLists.get(os) ?? (other.lo[os]! < 0 ? [] : [other.lo[os]!, other.hi[os]!]);
        const slot = map[r]! * L + li;
        for (let i = 0; i < runs.length; i += 2) if (!this.addRange(slot, runs[i]!, runs[i + 1]!)) return null;
      }
    }
    return map;
  }

  /** Whether two slots hold the same positions, without copying them. */
  private sameSlots(a: number, b: number): boolean {
    const la = this.listOf[a]!;
    const lb = this.listOf[b]!;
    if (la === -1 && lb === -1) return this.lo[a] === this.lo[b] && this.hi[a] === this.hi[b];
    if (la !== -1 && lb !== -1) return this.lists[la]!.equals(this.lists[lb]!);
    return false; // a list always has a gap, an inline run never
  }

  /** Every layer of request r holds the same positions (what a valid log has). */
  private layersAgree(r: number): boolean {
    const L = this.L;
    for (let li = 1; li < L; li++) if (!this.sameSlots(r * L, r * L + li)) return false;
    return true;
  }

  /** Rows present in some layer of a request but absent from another, one entry per (layer, request). */
  missingRows(): MissingRows[] {
    const out: MissingRows[] = [];
    const L = this.L;
    for (let r = 0; r < this.reqIds.length; r++) {
      if (this.layersAgree(r)) continue;
      const per = Array.from({ length: L }, (_, li) => this.runsOf(r * L + li));
      const union = per.reduce((u, iv) => unionIntervals(u, iv), [] as number[]);
      const total = intervalsSize(union);
      for (let li = 0; li < L; li++) {
        const got = intervalsSize(per[li]!);
        if (got === total) continue;
        out.push({
          layer: this.layers[li]!,
          req_id: this.reqIds[r]!,
          token_idx: firstMissing(union, per[li]!),
          missing: total - got,
        });
      }
    }
    return out;
  }

  requests(): RequestRows[] {
    const L = this.L;
    const out: RequestRows[] = [];
    for (let r = 0; r < this.reqIds.length; r++) {
      if (this.layersAgree(r)) {
        // Valid logs: the union is any one layer's positions; nothing is copied.
        const slot = r * L;
        const list = this.listOf[slot] === -1 ? null : this.lists[this.listOf[slot]!]!;
        const lo = this.lo[slot]!;
        const size = list ? list.size : lo < 0 ? 0 : this.hi[slot]! - lo + 1;
        out.push({
          req_id: this.reqIds[r]!,
          rows_per_layer: new Array<number>(L).fill(size),
          tokens: size,
          min_token_idx: list ? list.min : lo,
          max_token_idx: list ? list.max : this.hi[slot]!,
        });
        continue;
      }
      let union: number[] = [];
      const rows: number[] = [];
      for (let li = 0; li < L; li++) {
        const iv = this.runsOf(r * L + li);
        rows.push(intervalsSize(iv));
        union = unionIntervals(union, iv);
      }
      out.push({
        req_id: this.reqIds[r]!,
        rows_per_layer: rows,
        tokens: intervalsSize(union),
        min_token_idx: union[0] ?? -1,
        max_token_idx: union[union.length - 1] ?? -1,
      });
    }
    return out;
  }
}

export function intervalsSize(iv: readonly number[]): number {
  let n = 0;
  for (let i = 0; i < iv.length; i += 2) n += iv[i + 1]! - iv[i]! + 1;
  return n;
}

export function unionIntervals(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let s: number;
    let e: number;
    if (j >= b.length || (i < a.length && a[i]! <= b[j]!)) {
      s = a[i]!;
      e = a[i + 1]!;
      i += 2;
    } else {
      s = b[j]!;
      e = b[j + 1]!;
      j += 2;
    }
    const n = out.length;
    if (n > 0 && s <= out[n - 1]! + 1) out[n - 1] = Math.max(out[n - 1]!, e);
    else out.push(s, e);
  }
  return out;
}

/** Smallest position in `all` (a superset; both sorted inclusive intervals) that `part` lacks; -1 if none. */
export function firstMissing(all: readonly number[], part: readonly number[]): number {
  let j = 0;
  for (let i = 0; i < all.length; i += 2) {
    for (let t = all[i]!; t <= all[i + 1]!;) {
      while (j < part.length && part[j + 1]! < t) j += 2;
      if (j >= part.length || part[j]! > t) return t;
      t = part[j + 1]! + 1;
    }
  }
  return -1;
}
