// Logs of the original (seed) capture: every row has the same req_id (e.g. "r0") and token_idx is
// the row's index within its engine step, restarting at 0 each step, so rows of different steps
// collide as "duplicates". Recognised at that first collision and named in its message; `hist
// --as-batches` analyses such a log honestly by grouping rows into the batches they were written in.
import type { RowCoverage } from "./coverage.js";

/**
 * The hint added to a duplicate-row message when the log so far looks like the seed layout: one
 * req_id, rows in every logged layer already (a whole step was written), and token_idx back at 0.
 */
export function seedLayoutHint(coverage: RowCoverage, tokenIdx: number): string | null {
  if (coverage.requestCount !== 1 || tokenIdx !== 0 || !coverage.everyLayerHasRows(0)) return null;
  return (
    "this looks like the original capture's layout (one req_id for every row, token_idx restarting at 0 each engine step): " +
    "analyse it with `moe-prof hist --as-batches`"
  );
}

/**
 * Groups rows into the batches they were written in: per (req_id, layer), a token_idx that does
 * not increase starts the next batch. Each (req_id, batch) then stands in for a request, so that
 * the whole-file rules (every layer holds the same rows) still apply. State: one entry per
 * (req_id, layer), bounded like the requests themselves (limits.ts).
 */
export class BatchGrouping {
  private readonly last = new Map<string, number>();
  private readonly batch = new Map<string, number>();
  batches = 0;

  key(reqId: string, layer: number, tokenIdx: number): string {
    const slot = `${layer}\u0000${reqId}`;
    const prev = this.last.get(slot);
    let b = this.batch.get(slot) ?? 0;
    if (prev !== undefined && tokenIdx <= prev) this.batch.set(slot, ++b);
    this.last.set(slot, tokenIdx);
    if (b + 1 > this.batches) this.batches = b + 1;
    return `${reqId}#batch${b}`;
  }
}
