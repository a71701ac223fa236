// Layer-to-layer routing: for each logged layer l and the next logged layer l' (l + 1 unless a
// dense or unlogged layer lies between), how often a token whose top-1 expert in l is a has top-1
// b in l', and how far that is from independence. Pure; streams.
//
// A token's rows of different layers may arrive far apart (the capture writes a step layer by
// layer), so each token's top-1 per layer waits in `pending` until all its paired layers are in,
// then is counted and dropped. Memory: E x E counters per layer pair, plus the tokens still
// incomplete (in the capture's order, those of the current step).
import { dependence, type DependenceMeasures } from "./info-theory.js";

export interface TransitionState {
  cap: number;
  counts: Float64Array[];
  /** Incomplete tokens: request index, token_idx, top-1 per layer index (-1 = not seen). */
  pending: { req: number; token: number; top1: Int32Array }[];
}

/** Counters the transitions may hold: E^2 per layer pair (8 bytes each), 64 MB. Beyond it
 * (e.g. 65,536 experts) they are not counted and the summary says so. */
export const TRANSITION_BUDGET = 8_000_000;

export class TransitionTally {
  /** Index pairs [from, to] into layers_logged: `to` the next logged layer after `from`, both analysed. */
  pairs: [number, number][];
  private readonly inPair: Uint8Array;
  private needed: number;
  /** Set when E^2 x pairs exceeds TRANSITION_BUDGET: nothing is counted. */
  tooLarge = false;
  cap: number;
  counts: Float64Array[];
  /** Per request: token_idx -> slot in `pool` of a token still waiting for some of its layers. */
  private pending: (Map<number, number> | undefined)[] = [];
  /**
   * Slots of width L + 1: top-1 per layer index (-1 = not seen), then how many layers are in.
   * Pooled (freed slots are reused) so that the hot path allocates nothing per token.
   */
  private pool = new Int32Array(0);
  private free: number[] = [];
  private slots = 0;
  /**
   * Per request, the token of its latest row and that token's slot (-1: none): consecutive rows of
   * a request are mostly of one token (the capture writes a token's layers together; a decode step
   * written layer by layer has one token per request), so most rows skip the Map. Measured on the
   * 200 MB bench log: transitions 125 -> 60 ms of CPU.
   */
  private lastToken = new Float64Array(0);
  private lastSlot = new Int32Array(0);

  constructor(
    private readonly layers: readonly number[],
    selected: readonly boolean[],
    cap: number,
  ) {
    // Each logged layer with the next logged one, whatever lies between: dense layers (Qwen2-MoE's
    // mlp_only_layers) or layers `run --layers 0,2,4` did not log. A prefetcher for layer l's
    // successor needs exactly that pair.
    const order = layers.map((_, i) => i).sort((x, y) => layers[x]! - layers[y]!);
    this.pairs = [];
    for (let k = 0; k + 1 < order.length; k++) {
      const [i, j] = [order[k]!, order[k + 1]!];
      if (selected[i] && selected[j]) this.pairs.push([i, j]);
    }
    this.inPair = new Uint8Array(layers.length);
    for (const [i, j] of this.pairs) this.inPair[i] = this.inPair[j] = 1;
    this.needed = this.inPair.reduce((s, x) => s + x, 0);
    this.cap = cap;
    this.counts = [];
    if (!this.fits(cap)) return;
    this.counts = this.pairs.map(() => new Float64Array(cap * cap));
  }

  /** False (and counting stops for good) when `cap` experts would exceed TRANSITION_BUDGET. */
  private fits(cap: number): boolean {
    if (this.pairs.length * cap * cap <= TRANSITION_BUDGET) return true;
    this.tooLarge = this.pairs.length > 0;
    this.pairs = [];
    this.inPair.fill(0);
    this.needed = 0;
    this.counts = [];
    this.pending = [];
    return false;
  }

  /** Widens the counters to `cap` experts (only while num_experts is unknown). */
  grow(cap: number): void {
    const old = this.cap;
    if (!this.fits(cap)) {
      this.cap = cap;
      return;
    }
    this.counts = this.counts.map((m) => {
      const w = new Float64Array(cap * cap);
      for (let r = 0; r < old; r++) w.set(m.subarray(r * old, (r + 1) * old), r * cap);
      return w;
    });
    this.cap = cap;
  }

  private takeSlot(): number {
    const w = this.layers.length + 1;
    if (this.free.length > 0) {
      const slot = this.free.pop()!;
      this.pool.fill(-1, slot * w, slot * w + w - 1);
      this.pool[slot * w + w - 1] = 0;
      return slot;
    }
    if ((this.slots + 1) * w > this.pool.length) {
      const bigger = new Int32Array(Math.max(64 * w, this.pool.length * 2));
      bigger.set(this.pool);
      this.pool = bigger;
    }
    const slot = this.slots++;
    this.pool.fill(-1, slot * w, slot * w + w - 1);
    this.pool[slot * w + w - 1] = 0;
    return slot;
  }

  add(req: number, token: number, li: number, top1: number): void {
    if (this.inPair[li] !== 1) return;
    if (req >= this.lastSlot.length) {
      const n = Math.max(req + 1, this.lastSlot.length * 2, 64);
      const t = new Float64Array(n).fill(-1);
      t.set(this.lastToken);
      const s = new Int32Array(n).fill(-1);
      s.set(this.lastSlot);
      this.lastToken = t;
      this.lastSlot = s;
    }
    let m = this.pending[req];
    if (m === undefined) {
      while (this.pending.length <= req) this.pending.push(undefined);
      m = this.pending[req] = new Map();
    }
    let slot: number | undefined;
    if (this.lastToken[req] === token && this.lastSlot[req]! >= 0) slot = this.lastSlot[req]!;
    else {
      slot = m.get(token);
      if (slot === undefined) {
        slot = this.takeSlot();
        m.set(token, slot);
      }
      this.lastToken[req] = token;
      this.lastSlot[req] = slot;
    }
    const w = this.layers.length + 1;
    const base = slot * w;
    this.pool[base + li] = top1;
    if (++this.pool[base + w - 1]! === this.needed) {
      this.countSlot(base, this.counts);
      m.delete(token);
      this.free.push(slot);
      if (this.lastSlot[req] === slot) this.lastSlot[req] = -1;
    }
  }

  /** Counts the token in pool[base ..] (top-1 per layer index) into the pair matrices. */
  private countSlot(base: number, into: Float64Array[]): void {
    const E = this.cap;
    const pool = this.pool;
    const pairs = this.pairs;
    for (let pi = 0; pi < pairs.length; pi++) {
      const a = pool[base + pairs[pi]![0]]!;
      const b = pool[base + pairs[pi]![1]]!;
      if (a >= 0 && b >= 0) into[pi]![a * E + b]!++;
    }
  }

  exportState(): TransitionState {
    const pending: TransitionState["pending"] = [];
    const w = this.layers.length + 1;
    this.pending.forEach((m, req) =>
      m?.forEach((slot, token) => pending.push({ req, token, top1: this.pool.slice(slot * w, slot * w + w - 1) })),
    );
    return { cap: this.cap, counts: this.counts, pending };
  }

  /** Adds the tally of a later part of the same file; reqMap[r] is this tally's index for the other's request r. */
  mergeFrom(o: TransitionState, reqMap: readonly number[]): void {
    if (o.cap !== this.cap) throw new Error("TransitionTally.mergeFrom: expert counts differ");
    this.counts.forEach((m, pi) => {
      const theirs = o.counts[pi]!;
      for (let x = 0; x < m.length; x++) m[x]! += theirs[x]!;
    });
    for (const p of o.pending) {
      for (let li = 0; li < p.top1.length; li++)
        if (p.top1[li]! >= 0) this.add(reqMap[p.req]!, p.token, li, p.top1[li]!);
    }
  }

  /** The counters with the tokens still incomplete added (the tally itself is not changed). */
  finalCounts(): Float64Array[] {
    const out = this.counts.map((m) => Float64Array.from(m));
    const w = this.layers.length + 1;
    for (const m of this.pending) m?.forEach((slot) => this.countSlot(slot * w, out));
    return out;
  }
}

export interface TopTransition {
  from: number;
  to: number;
  tokens: number;
  /** tokens / all tokens of the pair. */
  share: number;
  /** P(to | from) over P(to): > 1 = the pair travels together more than chance. */
  lift: number;
}

export interface LayerPairTransitions extends DependenceMeasures {
  from_layer: number;
  to_layer: number;
  /** Tokens with a row in both layers. */
  tokens: number;
  top: TopTransition[];
  /** E x E: matrix[a][b] = tokens with top-1 a in from_layer and b in to_layer; null when E > MATRIX_MAX_EXPERTS. */
  matrix: number[][] | null;
}

export interface TransitionsSummary {
  pairs: LayerPairTransitions[];
  /** Means over the pairs. */
  mean_mutual_information_bits: number | null;
  mean_expected_mi_bits: number | null;
  mean_adjusted_mi: number | null;
}

/** Above this many experts the E x E matrices stay out of summary.json (they would dominate it). */
export const MATRIX_MAX_EXPERTS = 128;
const TOP_TRANSITIONS = 10;

export function transitionsSummary(
  t: TransitionTally,
  layers: readonly number[],
  E: number,
): TransitionsSummary | null {
  if (t.pairs.length === 0) return null;
  const cap = t.cap;
  const all = t.finalCounts();
  const pairs = t.pairs.map(([i, j], pi) => {
    const m = new Float64Array(E * E);
    for (let a = 0; a < E; a++) m.set(all[pi]!.subarray(a * cap, a * cap + E), a * E);
    const tokens = m.reduce((s, x) => s + x, 0);
    const from = new Float64Array(E);
    const to = new Float64Array(E);
    for (let a = 0; a < E; a++)
      for (let b = 0; b < E; b++) {
        from[a]! += m[a * E + b]!;
        to[b]! += m[a * E + b]!;
      }
    // The largest cells by insertion into a short list (cells in (a, b) order, so ties keep the lower pair).
    const best: number[] = [];
    for (let c = 0; c < E * E; c++) {
      const x = m[c]!;
      if (x === 0 || (best.length === TOP_TRANSITIONS && x <= m[best[best.length - 1]!]!)) continue;
      let i = best.length;
      while (i > 0 && m[best[i - 1]!]! < x) i--;
      best.splice(i, 0, c);
      if (best.length > TOP_TRANSITIONS) best.pop();
    }
    const top = best.map((c): TopTransition => {
      const a = Math.floor(c / E);
      const b = c % E;
      const x = m[c]!;
      return { from: a, to: b, tokens: x, share: x / tokens, lift: (x * tokens) / (from[a]! * to[b]!) };
    });
    return {
      from_layer: layers[i]!,
      to_layer: layers[j]!,
      tokens,
      ...dependence({ counts: m, rows: E, cols: E }),
      top,
      matrix:
        E <= MATRIX_MAX_EXPERTS
          ? Array.from({ length: E }, (_, a) => Array.from(m.subarray(a * E, (a + 1) * E)))
          : null,
    };
  });
  const avg = (f: (p: LayerPairTransitions) => number | null) => {
    const v = pairs.map(f).filter((x): x is number => x !== null);
    return v.length ? v.reduce((s, x) => s + x, 0) / v.length : null;
  };
  return {
    pairs,
    mean_mutual_information_bits: avg((p) => p.mutual_information_bits),
    mean_expected_mi_bits: avg((p) => p.expected_mi_bits),
    mean_adjusted_mi: avg((p) => p.adjusted_mi),
  };
}
