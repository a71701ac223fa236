// Comparing two routes logs. Pure. Definitions: APPENDIX.md "What-if analyses" (compare).
//   distribution: per common layer, the Jensen-Shannon divergence (bits) between the two logs'
//     expert shares, and the experts whose share moved most;
//   aligned rows, matched on (req_id, token_idx, layer): top-1 agreement, mean top-k overlap,
//     and per request the first position where the routing (or the token) differs.
import { jsDivergenceBits } from "./info-theory.js";
import { orderRows } from "./row-order.js";

export const COMPARE_SCHEMA = "moe-prof.compare/1";
const MOVED = 10;

export interface MovedExpert {
  expert: number;
  share_a: number;
  share_b: number;
  /** share_b - share_a. */
  delta: number;
}

export interface DistributionScope {
  js_divergence_bits: number | null;
  /** sqrt(js_divergence_bits): a metric, in [0, 1] (scipy's jensenshannon(p, q, base=2)). */
  js_distance: number | null;
  moved: MovedExpert[];
}

export function compareDistributions(a: ArrayLike<number>, b: ArrayLike<number>, E: number): DistributionScope {
  const sa = sum(a, E);
  const sb = sum(b, E);
  const jsd = jsDivergenceBits(pad(a, E), pad(b, E));
  const moved: MovedExpert[] = [];
  for (let e = 0; e < E; e++) {
    const pa = sa > 0 ? (a[e] ?? 0) / sa : 0;
    const pb = sb > 0 ? (b[e] ?? 0) / sb : 0;
    moved.push({ expert: e, share_a: pa, share_b: pb, delta: pb - pa });
  }
  moved.sort((x, y) => Math.abs(y.delta) - Math.abs(x.delta) || x.expert - y.expert);
  return {
    js_divergence_bits: jsd,
    js_distance: jsd === null ? null : Math.sqrt(jsd),
    moved: moved.slice(0, MOVED).filter((m) => m.delta !== 0),
  };
}

function sum(c: ArrayLike<number>, E: number): number {
  let s = 0;
  for (let e = 0; e < E; e++) s += c[e] ?? 0;
  return s;
}

function pad(c: ArrayLike<number>, E: number): Float64Array {
  const out = new Float64Array(E);
  for (let e = 0; e < Math.min(E, c.length); e++) out[e] = c[e]!;
  return out;
}

/** Rows of one log in one bucket, as columns; ids has k per row; tokenId -1 where absent. */
export interface RowColumns {
  count: number;
  req: Int32Array;
  layer: Int32Array;
  token: Float64Array;
  tokenId: Float64Array;
  /** -1 where the row's top-1 is unknown (a log without topk_weights). */
  top1: Int32Array;
  ids: Int32Array;
}

interface Tally {
  rows: number;
  /** Rows whose top-1 is known in both logs, and of those the rows where it agrees. */
  top1Rows: number;
  top1Agree: number;
  overlap: number;
  identical: number;
}

const newTally = (): Tally => ({ rows: 0, top1Rows: 0, top1Agree: 0, overlap: 0, identical: 0 });

function tally(t: Tally, known: number, agree: number, overlap: number, identical: number): void {
  t.rows++;
  t.top1Rows += known;
  t.top1Agree += agree;
  t.overlap += overlap;
  t.identical += identical;
}

export class AlignAccumulator {
  readonly all = newTally();
  readonly byLayer = new Map<number, Tally>();
  readonly byRequest = new Map<number, Tally & { firstDiv: [number, number] | null; firstTokenDiv: number | null }>();
  onlyA = 0;
  onlyB = 0;

  constructor(readonly k: number) {}

  private request(req: number) {
    let t = this.byRequest.get(req);
    if (!t) {
      t = { ...newTally(), firstDiv: null, firstTokenDiv: null };
      this.byRequest.set(req, t);
    }
    return t;
  }

  /** Matches the rows of one bucket of each log on (request, layer, token) and tallies them. */
  joinBucket(a: RowColumns, b: RowColumns): void {
    const k = this.k;
    const order = (c: RowColumns) => orderRows(c.count, c.req, c.layer, c.token);
    const ia = order(a);
    const ib = order(b);
    let i = 0;
    let j = 0;
    while (i < ia.length || j < ib.length) {
      const x = ia[i];
      const y = ib[j];
      let cmp: number;
      if (x === undefined) cmp = 1;
      else if (y === undefined) cmp = -1;
      else cmp = a.req[x]! - b.req[y]! || a.layer[x]! - b.layer[y]! || a.token[x]! - b.token[y]!;
      if (cmp < 0) {
        this.onlyA++;
        i++;
        continue;
      }
      if (cmp > 0) {
        this.onlyB++;
        j++;
        continue;
      }
      i++;
      j++;
      let common = 0;
      for (let p = 0; p < k; p++) {
        const e = a.ids[x! * k + p]!;
        for (let q = 0; q < k; q++) if (b.ids[y! * k + q] === e) common++;
      }
      const known = a.top1[x!]! >= 0 && b.top1[y!]! >= 0 ? 1 : 0;
      const agree = known && a.top1[x!] === b.top1[y!] ? 1 : 0;
      const same = common === k ? 1 : 0;
      const layer = a.layer[x!]!;
      let lt = this.byLayer.get(layer);
      if (!lt) this.byLayer.set(layer, (lt = newTally()));
      const rt = this.request(a.req[x!]!);
      tally(this.all, known, agree, common / k, same);
      tally(lt, known, agree, common / k, same);
      tally(rt, known, agree, common / k, same);
      const tok = a.token[x!]!;
      if (!same && (rt.firstDiv === null || tok < rt.firstDiv[0] || (tok === rt.firstDiv[0] && layer < rt.firstDiv[1])))
        rt.firstDiv = [tok, layer];
      const ta = a.tokenId[x!]!;
      const tb = b.tokenId[y!]!;
      if (ta >= 0 && tb >= 0 && ta !== tb && (rt.firstTokenDiv === null || tok < rt.firstTokenDiv))
        rt.firstTokenDiv = tok;
    }
  }
}

export interface AlignedScope {
  rows: number;
  top1_agreement: number | null;
  topk_overlap: number | null;
  /** Rows whose top-k sets are equal. */
  topk_identical: number | null;
}

export interface AlignedRequest extends AlignedScope {
  req_id: string;
  /** Lowest token_idx (then layer) whose top-k sets differ; null if none. */
  first_divergence: { token_idx: number; layer: number } | null;
  /** Lowest token_idx whose token_id differs (both logs carry token_id); null if none. */
  first_token_id_divergence: number | null;
}

export interface AlignedComparison extends AlignedScope {
  rows_only_a: number;
  rows_only_b: number;
  requests_compared: number;
  /** Requests with a first_divergence. */
  requests_diverged: number;
  layers: (AlignedScope & { layer: number })[];
  requests: AlignedRequest[];
}

function scope(t: Tally): AlignedScope {
  const r = t.rows;
  return {
    rows: r,
    top1_agreement: t.top1Rows ? t.top1Agree / t.top1Rows : null,
    topk_overlap: r ? t.overlap / r : null,
    topk_identical: r ? t.identical / r : null,
  };
}

export function alignedResult(
  acc: AlignAccumulator,
  reqIds: readonly string[],
  layers: readonly number[],
): AlignedComparison {
  const requests = [...acc.byRequest.entries()]
    .sort((x, y) => x[0] - y[0])
    .map(([r, t]) => ({
      req_id: reqIds[r]!,
      ...scope(t),
      first_divergence: t.firstDiv ? { token_idx: t.firstDiv[0], layer: t.firstDiv[1] } : null,
      first_token_id_divergence: t.firstTokenDiv,
    }));
  return {
    ...scope(acc.all),
    rows_only_a: acc.onlyA,
    rows_only_b: acc.onlyB,
    requests_compared: requests.length,
    requests_diverged: requests.filter((q) => q.first_divergence !== null).length,
    layers: layers.map((layer) => ({ layer, ...scope(acc.byLayer.get(layer) ?? newTally()) })),
    requests,
  };
}

export interface LogSide {
  file: string;
  model_id: string;
  engine: string | null;
  rows: number;
  requests: number;
  layers_logged: number[];
  top_k: number;
  num_experts: number;
}

export interface CompareReport {
  schema: string;
  a: LogSide;
  b: LogSide;
  /** Layers in both logs, ascending: what is compared. */
  layers: number[];
  num_experts: number;
  distribution: { overall: DistributionScope; layers: (DistributionScope & { layer: number })[] };
  /** Null when no row of a matches a row of b, or top_k differs. */
  aligned: AlignedComparison | null;
  notes: string[];
}
