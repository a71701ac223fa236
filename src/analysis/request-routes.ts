// One request's routes (`hist --request ID`): every token's experts in every analysed layer,
// ordered by weight (top-1 first), as the table, the picture and the JSON show them. Only that
// request's rows are kept: tokens x layers x top_k numbers.
import type { CheckedRoute } from "../routes/route-check.js";

export const REQUEST_SCHEMA = "moe-prof.request/1";

export interface RequestToken {
  token_idx: number;
  phase: "prefill" | "decode" | null;
  token_id: number | null;
  /** Per layer of `layers`: the experts by weight, heaviest first (null: no row for that layer). */
  experts: (number[] | null)[];
  /** Their weights, in the same order. */
  weights: (number[] | null)[];
}

export interface RequestRoutes {
  schema: string;
  source: { file: string; bytes: number };
  model_id: string;
  req_id: string;
  layers: number[];
  top_k: number;
  num_experts: number;
  /** In token_idx order. */
  tokens: RequestToken[];
}

/** Slot order by weight, heaviest first; ties keep the logged order (so the top-1 is the first maximum). */
export function byWeight(weights: readonly number[]): number[] {
  return weights.map((_, i) => i).sort((a, b) => weights[b]! - weights[a]! || a - b);
}

/** Collects the rows of one request as a log streams past (layerIdx indexes `layers`). */
export class RequestCollector {
  private readonly byToken = new Map<number, RequestToken>();

  constructor(
    readonly reqId: string,
    private readonly layerCount: number,
  ) {}

  add(row: CheckedRoute, layerIdx: number): void {
    if (row.req_id !== this.reqId) return;
    let t = this.byToken.get(row.token_idx);
    if (t === undefined) {
      t = {
        token_idx: row.token_idx,
        phase: row.phase ?? null,
        token_id: row.token_id ?? null,
        experts: new Array<number[] | null>(this.layerCount).fill(null),
        weights: new Array<number[] | null>(this.layerCount).fill(null),
      };
      this.byToken.set(row.token_idx, t);
    }
    const ws = row.topk_weights;
    if (ws === undefined) throw new Error("RequestCollector: a row without topk_weights (refuse such logs before)");
    const order = byWeight(ws);
    t.experts[layerIdx] = order.map((i) => row.topk_ids[i]!);
    t.weights[layerIdx] = order.map((i) => ws[i]!);
  }

  get found(): boolean {
    return this.byToken.size > 0;
  }

  tokens(): RequestToken[] {
    return [...this.byToken.values()].sort((a, b) => a.token_idx - b.token_idx);
  }
}
