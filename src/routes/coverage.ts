// Which (req_id, token_idx) rows each layer holds: finds duplicates as they arrive and, at the
// end, rows present in some layers but missing from others.
//
// Memory: per (request, layer) the token positions seen are kept as sorted, merged, inclusive
// intervals [s0,e0, s1,e1, ...]. The capture writes each request's tokens in position order,
// so a complete layer is one interval per request and memory is O(requests x layers), not
// O(rows): a 200 MB log costs kilobytes here. Out-of-order rows are still handled exactly
// (binary search + merge); only a log with many holes costs one interval per hole. This is
// exact, unlike a hashed summary, so the missing row can be named without a second pass.

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
  intervals: (number[] | undefined)[];
}

export class RowCoverage {
  private readonly reqIndex = new Map<string, number>();
  private readonly reqIds: string[] = [];
  /** intervals[req * layerCount + layer] */
  private readonly intervals: (number[] | undefined)[] = [];

  constructor(private readonly layers: readonly number[]) {}

  get requestCount(): number {
    return this.reqIds.length;
  }

  /** Dense index of a request in first-seen order (analysis keys its per-request state on it). */
  requestIndex(reqId: string): number {
    let r = this.reqIndex.get(reqId);
    if (r === undefined) {
      r = this.reqIds.length;
      this.reqIndex.set(reqId, r);
      this.reqIds.push(reqId);
      for (let i = 0; i < this.layers.length; i++) this.intervals.push(undefined);
    }
    return r;
  }

  requestId(index: number): string {
    return this.reqIds[index]!;
  }

  /** Records a row; false when that (request, layer, token_idx) was already recorded. */
  add(req: number, layerIdx: number, t: number): boolean {
    const slot = req * this.layers.length + layerIdx;
    const iv = this.intervals[slot];
    if (iv === undefined) {
      this.intervals[slot] = [t, t];
      return true;
    }
    const n = iv.length;
    const lastEnd = iv[n - 1]!;
    if (t === lastEnd + 1) {
      iv[n - 1] = t;
      return true;
    }
    if (t > lastEnd + 1) {
      iv.push(t, t);
      return true;
    }
    return insertOutOfOrder(iv, t);
  }

  /** Plain data for moving a coverage between threads (structured clone). */
  exportState(): CoverageState {
    return { reqIds: this.reqIds, intervals: this.intervals };
  }

  /**
   * Adds the rows of another coverage (of a later part of the same file). Returns, per request
   * index of `other`, its index here; or null when both saw some same row (a duplicate).
   */
  mergeFrom(other: CoverageState): number[] | null {
    const L = this.layers.length;
    const map = other.reqIds.map((id) => this.requestIndex(id));
    for (let r = 0; r < map.length; r++) {
      for (let li = 0; li < L; li++) {
        const theirs = other.intervals[r * L + li];
        if (!theirs) continue;
        const slot = map[r]! * L + li;
        const mine = this.intervals[slot];
        if (!mine) {
          this.intervals[slot] = theirs;
          continue;
        }
        const union = unionIntervals(mine, theirs);
        if (intervalsSize(union) !== intervalsSize(mine) + intervalsSize(theirs)) return null;
        this.intervals[slot] = union;
      }
    }
    return map;
  }

  /** Rows present in some layer of a request but absent from another, one entry per (layer, request). */
  missingRows(): MissingRows[] {
    const out: MissingRows[] = [];
    const L = this.layers.length;
    for (let r = 0; r < this.reqIds.length; r++) {
      let union: number[] = [];
      for (let li = 0; li < L; li++) union = unionIntervals(union, this.intervals[r * L + li] ?? []);
      const total = intervalsSize(union);
      for (let li = 0; li < L; li++) {
        const have = this.intervals[r * L + li] ?? [];
        const got = intervalsSize(have);
        if (got === total) continue;
        out.push({ layer: this.layers[li]!, req_id: this.reqIds[r]!, token_idx: firstMissing(union, have), missing: total - got });
      }
    }
    return out;
  }

  requests(): RequestRows[] {
    const L = this.layers.length;
    const out: RequestRows[] = [];
    for (let r = 0; r < this.reqIds.length; r++) {
      let union: number[] = [];
      const rows: number[] = [];
      for (let li = 0; li < L; li++) {
        const iv = this.intervals[r * L + li] ?? [];
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

/** Slow path for a position at or before the last interval's end. */
function insertOutOfOrder(iv: number[], t: number): boolean {
  // Find the first interval whose end >= t.
  let lo = 0;
  let hi = iv.length / 2;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (iv[2 * mid + 1]! < t) lo = mid + 1;
    else hi = mid;
  }
  const i = lo; // exists: the last interval's end >= t
  const s = iv[2 * i]!;
  if (t >= s) return false; // inside interval i: duplicate
  const touchesPrev = i > 0 && iv[2 * i - 1]! === t - 1;
  const touchesNext = s === t + 1;
  if (touchesPrev && touchesNext) iv.splice(2 * i - 1, 2); // [.., e_prev, s_i, ..] -> bridge
  else if (touchesPrev) iv[2 * i - 1] = t;
  else if (touchesNext) iv[2 * i] = t;
  else iv.splice(2 * i, 0, t, t);
  return true;
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

/** Smallest position in `all` (a superset) that `part` lacks. */
function firstMissing(all: readonly number[], part: readonly number[]): number {
  let j = 0;
  for (let i = 0; i < all.length; i += 2) {
    for (let t = all[i]!; t <= all[i + 1]!; ) {
      while (j < part.length && part[j + 1]! < t) j += 2;
      if (j >= part.length || part[j]! > t) return t;
      t = part[j + 1]! + 1;
    }
  }
  return -1;
}
