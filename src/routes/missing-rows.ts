// Missing rows, less the rows whose lines were already reported as bad. `validate --all-errors`
// (and --lenient) keep going after a bad line; when that line still names its row (req_id,
// token_idx and a logged layer), the row is not reported a second time as missing from its layer.
import { RowCoverage, unionIntervals, intervalsSize, firstMissing, type MissingRows } from "./coverage.js";

/** The (req_id, token_idx, layer) of a rejected line, when it names a logged row; else null. */
export function namedRow(
  value: unknown,
  layerIndex: Int32Array,
): { reqId: string; token: number; layerIdx: number } | null {
  if (typeof value !== "object" || value === null) return null;
  const o = value as Record<string, unknown>;
  const { req_id: reqId, token_idx: token, layer } = o;
  if (typeof reqId !== "string" || typeof token !== "number" || !Number.isSafeInteger(token) || token < 0) return null;
  if (
    typeof layer !== "number" ||
    !Number.isInteger(layer) ||
    layer < 0 ||
    layer >= layerIndex.length ||
    layerIndex[layer]! < 0
  )
    return null;
  return { reqId, token, layerIdx: layerIndex[layer]! };
}

/** Rows reported bad, by row. */
export class RejectedRows {
  readonly coverage: RowCoverage;
  count = 0;
  constructor(layers: readonly number[]) {
    this.coverage = new RowCoverage(layers);
  }
  add(row: { reqId: string; token: number; layerIdx: number }): void {
    this.count++;
    this.coverage.add(this.coverage.requestIndex(row.reqId), row.layerIdx, row.token);
  }
}

/** cov.missingRows(), with positions of rows in `rejected` not counted as missing. */
export function missingRowsExcept(
  cov: RowCoverage,
  rejected: RejectedRows | null,
  layers: readonly number[],
): MissingRows[] {
  if (rejected === null || rejected.count === 0) return cov.missingRows();
  const L = layers.length;
  const out: MissingRows[] = [];
  const reqIds = cov.requestIds;
  for (let r = 0; r < reqIds.length; r++) {
    const per = Array.from({ length: L }, (_, li) => cov.positions(r, li));
    const union = per.reduce((u, iv) => unionIntervals(u, iv), [] as number[]);
    const total = intervalsSize(union);
    const b = rejected.coverage.knownRequest(reqIds[r]!);
    for (let li = 0; li < L; li++) {
      const excused = b === undefined ? [] : rejected.coverage.positions(b, li);
      // Positions of the union that this layer has, or whose line was reported bad.
      const seen = unionIntervals(per[li]!, intersect(excused, union));
      const got = intervalsSize(seen);
      if (got === total) continue;
      out.push({ layer: layers[li]!, req_id: reqIds[r]!, token_idx: firstMissing(union, seen), missing: total - got });
    }
  }
  return out;
}

function intersect(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const s = Math.max(a[i]!, b[j]!);
    const e = Math.min(a[i + 1]!, b[j + 1]!);
    if (s <= e) out.push(s, e);
    if (a[i + 1]! < b[j + 1]!) i += 2;
    else j += 2;
  }
  return out;
}
