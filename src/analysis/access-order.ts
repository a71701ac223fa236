// The order in which a cache sees one layer's expert accesses. Pure.
//   request: requests one after another (in the order of their first row in the log), each in
//            token order; every row's topk_ids in the row's order (single-stream offloading).
//   step:    rows grouped by engine step, steps ascending; per step the distinct experts it needs,
//            ascending by id (batched serving: one load per expert per step).

export type AccessOrder = "request" | "step";

/** One layer's rows as columns; ids holds k entries per row. */
export interface LayerRows {
  count: number;
  k: number;
  req: Int32Array;
  token: Float64Array;
  /** Engine step per row; -1 where the row has none. */
  step: Float64Array;
  ids: Int32Array;
}

function sortedIndex(n: number, before: (a: number, b: number) => number): Uint32Array {
  const idx = new Uint32Array(n);
  let sorted = true;
  for (let i = 0; i < n; i++) {
    idx[i] = i;
    if (i > 0 && sorted && before(i - 1, i) > 0) sorted = false;
  }
  // Logs are written in order almost always: skip the sort then.
  if (!sorted) idx.sort(before);
  return idx;
}

export function requestOrderSequence(rows: LayerRows): Int32Array {
  const { req, token, ids, k } = rows;
  const idx = sortedIndex(rows.count, (a, b) => req[a]! - req[b]! || token[a]! - token[b]!);
  const seq = new Int32Array(rows.count * k);
  let p = 0;
  for (let i = 0; i < idx.length; i++) {
    const base = idx[i]! * k;
    for (let j = 0; j < k; j++) seq[p++] = ids[base + j]!;
  }
  return seq;
}

/** Steps must be >= 0 on every row (the caller refuses logs without them). */
export function stepOrderSequence(rows: LayerRows, E: number): { seq: Int32Array; steps: number } {
  const { step, ids, k } = rows;
  const idx = sortedIndex(rows.count, (a, b) => step[a]! - step[b]!);
  const seq = new Int32Array(rows.count * k);
  const mark = new Float64Array(E).fill(-1);
  const group: number[] = [];
  let p = 0;
  let steps = 0;
  const flush = () => {
    group.sort((a, b) => a - b);
    for (const e of group) seq[p++] = e;
    group.length = 0;
  };
  let current = -1;
  for (let i = 0; i < idx.length; i++) {
    const r = idx[i]!;
    const s = step[r]!;
    if (s !== current) {
      flush();
      current = s;
      steps++;
    }
    const base = r * k;
    for (let j = 0; j < k; j++) {
      const e = ids[base + j]!;
      if (mark[e] !== s) {
        mark[e] = s;
        group.push(e);
      }
    }
  }
  flush();
  return { seq: seq.subarray(0, p), steps };
}
