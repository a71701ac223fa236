// Accumulates counts from route rows as they stream past: fixed-size state (per-expert and per
// expert-pair counters, one small record per (request, layer)), never the rows themselves.
// Pure: it is handed rows, it reads nothing.
import type { CheckedRoute } from "../routes/route-check.js";
import { TransitionTally, type TransitionState } from "./transitions.js";

/** Pair counters allowed in all (entries of 8 bytes): keeps E x E matrices well inside the RSS target. */
const PAIR_BUDGET = 8_000_000;

export class RouteTally {
  /** Exclusive bound on expert ids seen or declared; grows while num_experts is unknown. */
  cap: number;
  readonly layerCount: number;
  readonly selected: readonly boolean[];
  readonly layerRows: Float64Array;
  layerCounts: Float64Array[];
  /** Per layer E x E (row-major, a < b) rows routing to both; null when over the budget. */
  layerPairs: Float64Array[] | null;
  /** Used when per-layer pairs do not fit: one matrix over the selected layers; null if even that does not fit. */
  overallPairs: Float64Array | null = null;
  readonly phaseRows = { prefill: 0, decode: 0, none: 0 };
  phaseCounts: { prefill: Float64Array; decode: Float64Array };
  readonly repPairs: Float64Array;
  readonly repRepeats: Float64Array;
  /** Per (request, layer): last token_idx and its top-1 expert, for the repetition rate. */
  // Positions in Float64Array: token_idx may exceed 2^31 in a valid log.
  private lastTok = new Float64Array(0);
  private lastTop1 = new Int32Array(0);
  /** ... and the first ones, so that tallies of consecutive parts of a file can be merged exactly. */
  private firstTok = new Float64Array(0);
  private firstTop1 = new Int32Array(0);
  readonly reqPhaseRows: { prefill: number[]; decode: number[] } = { prefill: [], decode: [] };
  readonly notes: string[] = [];
  /** Top-1 -> top-1 between consecutive layers (empty without `layers`). */
  readonly transitions: TransitionTally;
  private readonly fixedCap: boolean;

  /**
   * @param selected per index of layers_logged, whether `--layers` keeps it
   * @param numExperts meta.num_experts when the log declares it
   * @param layers meta.layers_logged (for the layer transitions)
   */
  constructor(
    selected: readonly boolean[],
    numExperts: number | undefined,
    layers: readonly number[] = [],
    /** False when rows of one "request" are not consecutive tokens (`--as-batches`): no repetition
     * and no layer transitions counted. */
    private repetition = true,
    /** False when rows carry no topk_weights (meta weights_logged: false): a row's top-1 is
     * unknown, so neither repetition nor layer transitions are counted (transitions: none). */
    top1Known = true,
  ) {
    this.layerCount = selected.length;
    this.selected = selected;
    this.fixedCap = numExperts !== undefined;
    this.cap = numExperts ?? 64;
    this.layerRows = new Float64Array(this.layerCount);
    this.layerCounts = selected.map(() => new Float64Array(this.cap));
    this.layerPairs = null;
    this.phaseCounts = { prefill: new Float64Array(this.cap), decode: new Float64Array(this.cap) };
    this.allocPairs();
    this.repPairs = new Float64Array(this.layerCount);
    this.repRepeats = new Float64Array(this.layerCount);
    if (!top1Known) this.repetition = false;
    const paired = top1Known && layers.length === selected.length;
    this.transitions = new TransitionTally(paired ? layers : [], paired ? selected : [], this.cap);
  }

  private allocPairs(): void {
    const per = this.cap * this.cap;
    const nSel = this.selected.filter(Boolean).length;
    if (per * nSel <= PAIR_BUDGET) {
      this.layerPairs = this.selected.map((s) => (s ? new Float64Array(per) : new Float64Array(0)));
      this.overallPairs = null;
    } else if (per <= PAIR_BUDGET) {
      this.layerPairs = null;
      this.overallPairs = new Float64Array(per);
    } else {
      this.layerPairs = null;
      this.overallPairs = null;
    }
  }

  /** Grows every per-expert array to hold `id` (only while num_experts is unknown). */
  private grow(id: number): void {
    const old = this.cap;
    const cap = Math.max(old * 2, id + 1);
    const widen = (a: Float64Array) => {
      const b = new Float64Array(cap);
      b.set(a);
      return b;
    };
    const widenPairs = (a: Float64Array) => {
      const b = new Float64Array(cap * cap);
      for (let r = 0; r < old; r++) b.set(a.subarray(r * old, (r + 1) * old), r * cap);
      return b;
    };
    const oldLayerPairs = this.layerPairs;
    const oldOverall = this.overallPairs;
    this.cap = cap;
    this.layerCounts = this.layerCounts.map(widen);
    this.phaseCounts = { prefill: widen(this.phaseCounts.prefill), decode: widen(this.phaseCounts.decode) };
    this.allocPairs();
    this.transitions.grow(cap);
    if (this.layerPairs && oldLayerPairs)
      this.layerPairs = oldLayerPairs.map((p, i) => (this.selected[i] ? widenPairs(p) : p));
    else if (this.overallPairs && oldLayerPairs) {
      // Per-layer matrices no longer fit: fold what was counted into the overall one.
      const o = new Float64Array(old * old);
      for (const p of oldLayerPairs) for (let i = 0; i < p.length; i++) o[i]! += p[i]!;
      this.overallPairs = widenPairs(o);
    } else if (this.overallPairs && oldOverall) this.overallPairs = widenPairs(oldOverall);
    if (!this.layerPairs && !this.overallPairs && (oldLayerPairs || oldOverall)) {
      this.notes.push(`co-activation pairs not computed: ${cap} experts need more than ${PAIR_BUDGET} counters`);
    }
  }

  private ensureRequest(req: number): void {
    const need = (req + 1) * this.layerCount;
    if (need <= this.lastTok.length) return;
    const size = Math.max(need, this.lastTok.length * 2);
    const widen = <T extends Int32Array | Float64Array>(a: T, fill: number): T => {
      const b = new (a.constructor as new (n: number) => T)(size).fill(fill) as T;
      b.set(a);
      return b;
    };
    // -2: no row yet (so that token 0 never looks like a successor of it).
    this.lastTok = widen(this.lastTok, -2);
    this.lastTop1 = widen(this.lastTop1, 0);
    this.firstTok = widen(this.firstTok, -2);
    this.firstTop1 = widen(this.firstTop1, 0);
  }

  // Hot path: one call per row (~1.2 M for 200 MB of log). Phase handled by literal branches
  // rather than by `this.x[phase]` (a keyed access per row): 255 -> ~180 ms on the bench log.
  add(row: CheckedRoute, req: number, li: number): void {
    const ids = row.topk_ids;
    const k = ids.length;
    if (!this.fixedCap) for (let i = 0; i < k; i++) if (ids[i]! >= this.cap) this.grow(ids[i]!);

    const phase = row.phase;
    const isPrefill = phase === "prefill";
    if (isPrefill || phase === "decode") {
      const rr = isPrefill ? this.reqPhaseRows.prefill : this.reqPhaseRows.decode;
      while (rr.length <= req) rr.push(0);
      rr[req]!++;
    }
    if (!this.selected[li]) return;

    this.layerRows[li]!++;
    const counts = this.layerCounts[li]!;
    if (phase === undefined) {
      this.phaseRows.none++;
      for (let i = 0; i < k; i++) counts[ids[i]!]!++;
    } else {
      let pc: Float64Array;
      if (isPrefill) {
        this.phaseRows.prefill++;
        pc = this.phaseCounts.prefill;
      } else {
        this.phaseRows.decode++;
        pc = this.phaseCounts.decode;
      }
      for (let i = 0; i < k; i++) {
        const e = ids[i]!;
        counts[e]!++;
        pc[e]!++;
      }
    }

    const pairs = this.layerPairs ? this.layerPairs[li]! : this.overallPairs;
    if (pairs) {
      const E = this.cap;
      for (let i = 0; i < k; i++) {
        const a = ids[i]!;
        for (let j = i + 1; j < k; j++) {
          const b = ids[j]!;
          pairs[a < b ? a * E + b : b * E + a]!++;
        }
      }
    }

    // Top-1 is the highest weight (first on ties), not topk_ids[0]: the order is not guaranteed.
    const ws = row.topk_weights;
    if (!this.repetition || ws === undefined) return;
    let best = 0;
    for (let i = 1; i < k; i++) if (ws[i]! > ws[best]!) best = i;
    const top1 = ids[best]!;
    this.transitions.add(req, row.token_idx, li, top1);
    this.ensureRequest(req);
    const slot = req * this.layerCount + li;
    const t = row.token_idx;
    if (this.lastTok[slot] === -2) {
      this.firstTok[slot] = t;
      this.firstTop1[slot] = top1;
    } else if (this.lastTok[slot] === t - 1) {
      this.repPairs[li]!++;
      if (this.lastTop1[slot] === top1) this.repRepeats[li]!++;
    }
    this.lastTok[slot] = t;
    this.lastTop1[slot] = top1;
  }

  /** Plain data for moving a tally between threads (structured clone). */
  exportState(): TallyState {
    return {
      cap: this.cap,
      layerRows: this.layerRows,
      layerCounts: this.layerCounts,
      layerPairs: this.layerPairs,
      overallPairs: this.overallPairs,
      phaseRows: this.phaseRows,
      phaseCounts: this.phaseCounts,
      repPairs: this.repPairs,
      repRepeats: this.repRepeats,
      lastTok: this.lastTok,
      lastTop1: this.lastTop1,
      firstTok: this.firstTok,
      firstTop1: this.firstTop1,
      reqPhaseRows: this.reqPhaseRows,
      notes: this.notes,
      transitions: this.transitions.exportState(),
    };
  }

  /**
   * Adds the tally of the part of the file that follows the rows seen so far, as if its rows had
   * been added here one by one. `reqMap[r]` is this tally's request index for the other's r.
   * Only for a fixed expert count (num_experts declared), where both sides have the same shapes.
   */
  mergeFrom(o: TallyState, reqMap: readonly number[]): void {
    if (!this.fixedCap || o.cap !== this.cap) throw new Error("RouteTally.mergeFrom: expert counts differ");
    const add = (a: Float64Array, b: Float64Array) => {
      for (let i = 0; i < b.length; i++) a[i]! += b[i]!;
    };
    add(this.layerRows, o.layerRows);
    this.layerCounts.forEach((c, li) => add(c, o.layerCounts[li]!));
    if (this.layerPairs && o.layerPairs) this.layerPairs.forEach((p, li) => add(p, o.layerPairs![li]!));
    if (this.overallPairs && o.overallPairs) add(this.overallPairs, o.overallPairs);
    this.phaseRows.prefill += o.phaseRows.prefill;
    this.phaseRows.decode += o.phaseRows.decode;
    this.phaseRows.none += o.phaseRows.none;
    add(this.phaseCounts.prefill, o.phaseCounts.prefill);
    add(this.phaseCounts.decode, o.phaseCounts.decode);
    add(this.repPairs, o.repPairs);
    add(this.repRepeats, o.repRepeats);
    this.transitions.mergeFrom(o.transitions, reqMap);
    for (const phase of ["prefill", "decode"] as const) {
      o.reqPhaseRows[phase].forEach((n, r) => {
        const rr = this.reqPhaseRows[phase];
        const mine = reqMap[r]!;
        while (rr.length <= mine) rr.push(0);
        rr[mine]! += n;
      });
    }
    // The pair of rows that straddles the boundary, per (request, layer).
    const L = this.layerCount;
    reqMap.forEach((mine, r) => {
      for (let li = 0; li < L; li++) {
        const os = r * L + li;
        const theirFirst = o.firstTok[os];
        if (theirFirst === undefined || theirFirst === -2) continue;
        this.ensureRequest(mine);
        const ms = mine * L + li;
        if (this.lastTok[ms] === -2) {
          this.firstTok[ms] = theirFirst;
          this.firstTop1[ms] = o.firstTop1[os]!;
        } else if (this.lastTok[ms] === theirFirst - 1) {
          this.repPairs[li]!++;
          if (this.lastTop1[ms] === o.firstTop1[os]) this.repRepeats[li]!++;
        }
        this.lastTok[ms] = o.lastTok[os]!;
        this.lastTop1[ms] = o.lastTop1[os]!;
      }
    });
  }
}

export interface TallyState {
  cap: number;
  layerRows: Float64Array;
  layerCounts: Float64Array[];
  layerPairs: Float64Array[] | null;
  overallPairs: Float64Array | null;
  phaseRows: { prefill: number; decode: number; none: number };
  phaseCounts: { prefill: Float64Array; decode: Float64Array };
  repPairs: Float64Array;
  repRepeats: Float64Array;
  lastTok: Float64Array;
  lastTop1: Int32Array;
  firstTok: Float64Array;
  firstTop1: Int32Array;
  reqPhaseRows: { prefill: number[]; decode: number[] };
  notes: string[];
  transitions: TransitionState;
}
