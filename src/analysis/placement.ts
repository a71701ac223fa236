// Expert-parallel placement of one layer's experts on G GPUs, and what a placement costs. Pure.
// Definitions and formulas: APPENDIX.md "What-if analyses" (place).
//
// A placement gives each GPU a list of expert replicas; expert e with r_e replicas sends each an
// equal share 1/r_e of its tokens. x[e][g] = (replicas of e on g) / r_e is the share of e's work
// done on GPU g, so a GPU's load is sum_e c_e * x[e][g] for any per-expert counts c.

export const PLACEMENT_POLICIES = ["contiguous", "balanced", "replicated", "coact"] as const;
export type PlacementPolicy = (typeof PLACEMENT_POLICIES)[number];

export interface Placement {
  gpus: number;
  /** Per GPU, the logical expert of each slot, in slot order. */
  experts: number[][];
  /** Replicas per expert (1 everywhere except `replicated`). */
  replicas: Int32Array;
}

/** vLLM 0.15.1 without EPLB (`determine_expert_map`, "linear"): ranks below E mod G get one more expert. */
export function contiguousPlacement(E: number, G: number): Placement {
  const base = Math.floor(E / G);
  const rem = E % G;
  const experts: number[][] = [];
  for (let g = 0; g < G; g++) {
    const start = g * base + Math.min(g, rem);
    const n = base + (g < rem ? 1 : 0);
    experts.push(Array.from({ length: n }, (_, i) => start + i));
  }
  return { gpus: G, experts, replicas: new Int32Array(E).fill(1) };
}

interface Item {
  expert: number;
  weight: number;
}

/**
 * Greedy packing: items by weight descending (ties: lower expert id, then earlier item), each to
 * the least-loaded GPU that has a free slot (ties: lowest GPU); `slots` items per GPU at most.
 */
function pack(items: Item[], G: number, slots: number): number[][] {
  const order = items
    .map((_, i) => i)
    .sort((a, b) => items[b]!.weight - items[a]!.weight || items[a]!.expert - items[b]!.expert || a - b);
  const load = new Float64Array(G);
  const out: number[][] = Array.from({ length: G }, () => []);
  for (const i of order) {
    let best = -1;
    for (let g = 0; g < G; g++) {
      if (out[g]!.length >= slots) continue;
      if (best === -1 || load[g]! < load[best]!) best = g;
    }
    out[best]!.push(items[i]!.expert);
    load[best]! += items[i]!.weight;
  }
  return out;
}

/** `balanced`: experts by load, greedily onto the least-loaded GPU; ceil(E / G) slots per GPU. */
export function balancedPlacement(counts: ArrayLike<number>, G: number): Placement {
  const E = counts.length;
  const items = Array.from({ length: E }, (_, e) => ({ expert: e, weight: counts[e]! }));
  return { gpus: G, experts: pack(items, G, Math.ceil(E / G)), replicas: new Int32Array(E).fill(1) };
}

/**
 * `replicated` (DeepSeek EPLB's global policy, `replicate_experts` + `balanced_packing`): R times,
 * give one more replica to the expert with the highest load per replica (ties: lowest id); then
 * pack the E + R replicas, each weighing c_e / r_e, as `balanced` does, ceil((E + R) / G) slots per GPU.
 */
export function replicatedPlacement(counts: ArrayLike<number>, G: number, R: number): Placement {
  const E = counts.length;
  const replicas = new Int32Array(E).fill(1);
  for (let i = 0; i < R; i++) {
    let best = 0;
    for (let e = 1; e < E; e++) if (counts[e]! / replicas[e]! > counts[best]! / replicas[best]!) best = e;
    replicas[best]!++;
  }
  const items: Item[] = [];
  for (let e = 0; e < E; e++)
    for (let j = 0; j < replicas[e]!; j++) items.push({ expert: e, weight: counts[e]! / replicas[e]! });
  return { gpus: G, experts: pack(items, G, Math.ceil((E + R) / G)), replicas };
}

/**
 * `coact` (ours): starts from `balanced` and swaps experts between GPUs while a swap increases the
 * co-activation kept on one GPU, `sum over same-GPU pairs {a, b} of W[a][b]`, and raises no GPU's
 * load above (1 + slack) * mean GPU load (a GPU already above it, e.g. holding one very heavy
 * expert, may only get lighter), so the busiest GPU is never busier than balanced's. W is
 * symmetric with a zero diagonal: W[a][b] = T[a][b] + T[b][a], T[a][b] = rows whose top-1 is a
 * that also route to b, so the objective is exactly the top-k assignments that stay on the GPU
 * of their row's top-1 expert. Passes over e ascending take, for each e, its best improving swap
 * (ties: lowest partner id), until a pass changes nothing (at most `maxPasses`). Each GPU lists
 * its experts in ascending id.
 */
export function coactPlacement(
  counts: ArrayLike<number>,
  W: Float64Array,
  G: number,
  slack: number,
  maxPasses = 50,
): Placement {
  const E = counts.length;
  const start = balancedPlacement(counts, G);
  const gpuOf = new Int32Array(E);
  start.experts.forEach((list, g) => list.forEach((e) => (gpuOf[e] = g)));
  const load = gpuLoads(start, counts);
  const mean = load.reduce((s, x) => s + x, 0) / G;
  const cap = (1 + slack) * mean;
  // A[e * G + g] = sum of W[e][f] over the experts f on GPU g.
  const A = new Float64Array(E * G);
  for (let e = 0; e < E; e++) for (let f = 0; f < E; f++) A[e * G + gpuOf[f]!]! += W[e * E + f]!;

  for (let pass = 0; pass < maxPasses; pass++) {
    let swapped = false;
    for (let e = 0; e < E; e++) {
      const g = gpuOf[e]!;
      let bestF = -1;
      let bestGain = 0;
      for (let f = 0; f < E; f++) {
        const h = gpuOf[f]!;
        if (h === g) continue;
        const ce = counts[e]!;
        const cf = counts[f]!;
        const ng = load[g]! - ce + cf;
        const nh = load[h]! - cf + ce;
        // No GPU may rise above the cap (one already above it from the start may only go down).
        if ((ng > cap && ng > load[g]!) || (nh > cap && nh > load[h]!)) continue;
        const gain = A[e * G + h]! - A[e * G + g]! + A[f * G + g]! - A[f * G + h]! - 2 * W[e * E + f]!;
        if (gain > bestGain) {
          bestGain = gain;
          bestF = f;
        }
      }
      if (bestF === -1) continue;
      const f = bestF;
      const h = gpuOf[f]!;
      gpuOf[e] = h;
      gpuOf[f] = g;
      load[g]! += counts[f]! - counts[e]!;
      load[h]! += counts[e]! - counts[f]!;
      for (let x = 0; x < E; x++) {
        const d = W[x * E + f]! - W[x * E + e]!;
        A[x * G + g]! += d;
        A[x * G + h]! -= d;
      }
      swapped = true;
    }
    if (!swapped) break;
  }
  const experts: number[][] = Array.from({ length: G }, () => []);
  for (let e = 0; e < E; e++) experts[gpuOf[e]!]!.push(e);
  return { gpus: G, experts, replicas: new Int32Array(E).fill(1) };
}

/** x[e][g] as sparse lists: per expert, the GPUs doing its work and their shares. */
export function workShares(p: Placement): { gpu: number; share: number }[][] {
  const E = p.replicas.length;
  const out: { gpu: number; share: number }[][] = Array.from({ length: E }, () => []);
  p.experts.forEach((list, g) => {
    for (const e of list) {
      const cur = out[e]!.find((s) => s.gpu === g);
      if (cur) cur.share += 1 / p.replicas[e]!;
      else out[e]!.push({ gpu: g, share: 1 / p.replicas[e]! });
    }
  });
  return out;
}

/** Load of each GPU: sum_e counts[e] * x[e][g]. */
export function gpuLoads(p: Placement, counts: ArrayLike<number>, shares = workShares(p)): Float64Array {
  const load = new Float64Array(p.gpus);
  for (let e = 0; e < shares.length; e++) for (const s of shares[e]!) load[s.gpu]! += counts[e]! * s.share;
  return load;
}

/** Busiest GPU over the mean GPU load (1 = perfectly even); null without load. */
export function maxOverMean(loads: ArrayLike<number>): number | null {
  let sum = 0;
  let max = 0;
  for (let i = 0; i < loads.length; i++) {
    sum += loads[i]!;
    if (loads[i]! > max) max = loads[i]!;
  }
  return sum > 0 ? max / (sum / loads.length) : null;
}

/**
 * Expected top-k assignments that run on the GPU where the row's top-1 expert runs, for rows
 * `rows` with `k` assignments each and T[a][b] = rows with top-1 a that also route to b:
 * rows + sum_{a != b} T[a][b] * sum_g x[a][g] x[b][g]. (Each replica of an expert takes its
 * tokens with probability 1/r, independently; with one replica per expert the sum is 1 when a
 * and b share a GPU, else 0.) Divided by rows * k it is the share that stays local.
 */
export function localAssignments(p: Placement, T: Float64Array, rows: number, shares = workShares(p)): number {
  const E = p.replicas.length;
  const G = p.gpus;
  const x = new Float64Array(E * G);
  for (let e = 0; e < E; e++) for (const s of shares[e]!) x[e * G + s.gpu] = s.share;
  let local = rows;
  for (let a = 0; a < E; a++) {
    for (let b = 0; b < E; b++) {
      const t = T[a * E + b]!;
      if (t === 0 || a === b) continue;
      let same = 0;
      for (let g = 0; g < G; g++) same += x[a * G + g]! * x[b * G + g]!;
      local += t * same;
    }
  }
  return local;
}
