// Routing metrics: pure functions over per-expert counts. Formulas are in APPENDIX.md ("Metrics");
// tests check each against hand-computed values. Counts are token x slot assignments.

export type Counts = ArrayLike<number>;

function total(c: Counts): number {
  let s = 0;
  for (let i = 0; i < c.length; i++) s += c[i]!;
  return s;
}

/** Shannon entropy in bits of counts / sum(counts); 0 for no assignments. */
export function entropyBits(c: Counts): number {
  const n = total(c);
  if (n === 0) return 0;
  let h = 0;
  for (let i = 0; i < c.length; i++) {
    const x = c[i]!;
    if (x > 0) {
      const p = x / n;
      h -= p * Math.log2(p);
    }
  }
  return h;
}

/** Entropy / log2(E): 1 is perfectly even use of all E experts. Null when E < 2 or no assignments. */
export function normalizedEntropy(c: Counts): number | null {
  if (c.length < 2 || total(c) === 0) return null;
  return entropyBits(c) / Math.log2(c.length);
}

export interface LoadStats {
  max: number;
  mean: number;
  /** max / mean: how many times its fair share the busiest expert gets (1 = balanced). */
  max_over_mean: number | null;
  /** Population standard deviation / mean. */
  cv: number | null;
}

export function loadStats(c: Counts): LoadStats {
  const E = c.length;
  if (E === 0) return { max: 0, mean: 0, max_over_mean: null, cv: null };
  const mean = total(c) / E;
  let max = 0;
  let ss = 0;
  for (let i = 0; i < E; i++) {
    const x = c[i]!;
    if (x > max) max = x;
    ss += (x - mean) * (x - mean);
  }
  const sd = Math.sqrt(ss / E);
  return { max, mean, max_over_mean: mean > 0 ? max / mean : null, cv: mean > 0 ? sd / mean : null };
}

/** Gini coefficient of the counts: 0 = every expert equally used, (E-1)/E = one expert takes all. */
export function gini(c: Counts): number | null {
  const E = c.length;
  const n = total(c);
  if (E === 0 || n === 0) return null;
  const sorted = Array.from(c).sort((a, b) => a - b);
  let weighted = 0;
  for (let i = 0; i < E; i++) weighted += (i + 1) * sorted[i]!;
  return (2 * weighted) / (E * n) - (E + 1) / E;
}

/** Experts never routed to, ascending. */
export function deadExperts(c: Counts): number[] {
  const out: number[] = [];
  for (let i = 0; i < c.length; i++) if (c[i] === 0) out.push(i);
  return out;
}

/** Share of experts used at least once. */
export function utilization(c: Counts): number | null {
  return c.length === 0 ? null : (c.length - deadExperts(c).length) / c.length;
}

export interface TopExpert {
  expert: number;
  count: number;
  share: number;
}

/** The n most used experts (ties: lower id first); share = count / sum(counts). */
export function topExperts(c: Counts, n: number): TopExpert[] {
  const sum = total(c);
  const ids = Array.from({ length: c.length }, (_, i) => i).filter((i) => c[i]! > 0);
  ids.sort((a, b) => c[b]! - c[a]! || a - b);
  return ids.slice(0, n).map((expert) => ({ expert, count: c[expert]!, share: sum > 0 ? c[expert]! / sum : 0 }));
}

export interface TopPair {
  experts: [number, number];
  /** Rows routing to both. */
  rows: number;
  /** rows / all rows. */
  share: number;
  /** share / (P(a) * P(b)), P(x) = rows routing to x / all rows: 1 = as often as chance. */
  lift: number | null;
}

/**
 * The n pairs most often chosen together. `pairs` is an E x E matrix (row-major) whose [a*E+b],
 * a < b, holds the rows routing to both a and b; `counts[x]` is the rows routing to x (each row
 * names an expert at most once, so assignments = rows).
 */
export function topPairs(pairs: ArrayLike<number>, E: number, counts: Counts, rows: number, n: number): TopPair[] {
  const found: [number, number, number][] = [];
  for (let a = 0; a < E; a++) {
    for (let b = a + 1; b < E; b++) {
      const v = pairs[a * E + b]!;
      if (v > 0) found.push([a, b, v]);
    }
  }
  found.sort((x, y) => y[2] - x[2] || x[0] - y[0] || x[1] - y[1]);
  return found.slice(0, n).map(([a, b, v]) => {
    const share = rows > 0 ? v / rows : 0;
    const pa = rows > 0 ? counts[a]! / rows : 0;
    const pb = rows > 0 ? counts[b]! / rows : 0;
    return { experts: [a, b], rows: v, share, lift: pa > 0 && pb > 0 ? share / (pa * pb) : null };
  });
}

export interface Repetition {
  /** Consecutive token pairs (t, t+1) of one request in one layer. */
  pairs: number;
  /** Of those, pairs whose top-1 expert is the same. */
  repeats: number;
  rate: number | null;
  /** What uniform random routing would give: 1 / E. */
  baseline: number | null;
}

export function repetition(pairs: number, repeats: number, E: number): Repetition {
  return { pairs, repeats, rate: pairs > 0 ? repeats / pairs : null, baseline: E > 0 ? 1 / E : null };
}

/** Every per-scope metric of one count vector, in the shape summary.json uses. */
export function describeCounts(c: Counts, topN: number) {
  const load = loadStats(c);
  const dead = deadExperts(c);
  return {
    assignments: total(c),
    entropy_bits: entropyBits(c),
    max_entropy_bits: c.length > 0 ? Math.log2(c.length) : 0,
    normalized_entropy: normalizedEntropy(c),
    max_load: load.max,
    mean_load: load.mean,
    max_over_mean: load.max_over_mean,
    cv: load.cv,
    gini: gini(c),
    dead_experts: dead,
    utilization: utilization(c),
    top: topExperts(c, topN),
  };
}
