// Information measures over counts, in bits. Pure. Formulas: APPENDIX.md "What-if analyses".
import { entropyBits } from "./metrics.js";

/** ln(n!) for n = 0..N (cumulative sums of logs: exact to ~1e-12 relative for N up to millions). */
function logFactorials(N: number): Float64Array {
  const lf = new Float64Array(N + 1);
  for (let n = 2; n <= N; n++) lf[n] = lf[n - 1]! + Math.log(n);
  return lf;
}

export interface Contingency {
  /** rows x cols counts, row-major. */
  counts: ArrayLike<number>;
  rows: number;
  cols: number;
}

function margins(t: Contingency): { a: Float64Array; b: Float64Array; n: number } {
  const a = new Float64Array(t.rows);
  const b = new Float64Array(t.cols);
  let n = 0;
  for (let i = 0; i < t.rows; i++) {
    for (let j = 0; j < t.cols; j++) {
      const x = t.counts[i * t.cols + j]!;
      a[i]! += x;
      b[j]! += x;
      n += x;
    }
  }
  return { a, b, n };
}

/** I(X;Y) = sum_ij p_ij log2(p_ij / (p_i q_j)) of the empirical joint distribution; 0 for no counts. */
export function mutualInformationBits(t: Contingency): number {
  const { a, b, n } = margins(t);
  if (n === 0) return 0;
  let mi = 0;
  for (let i = 0; i < t.rows; i++) {
    for (let j = 0; j < t.cols; j++) {
      const x = t.counts[i * t.cols + j]!;
      if (x > 0) mi += (x / n) * Math.log2((x * n) / (a[i]! * b[j]!));
    }
  }
  return Math.max(0, mi);
}

/**
 * Expected mutual information of two independent labelings with the same margins (the
 * permutation model: every pairing of the N column labels with the N row labels equally likely),
 * EMI = sum_ij sum_n (n/N) log2(N n / (a_i b_j)) * Hypergeometric(n; N, a_i, b_j) (Vinh, Epps &
 * Bailey 2010). What MI a table of this size shows by chance alone. Each inner sum walks out from
 * the mode until the terms fall below 1e-15 of the largest (beyond that they change no printed digit).
 */
export function expectedMutualInformationBits(t: Contingency): number {
  const { a, b, n: N } = margins(t);
  if (N === 0) return 0;
  const lf = logFactorials(N);
  let emi = 0;
  for (let i = 0; i < t.rows; i++) {
    const ai = a[i]!;
    if (ai === 0) continue;
    for (let j = 0; j < t.cols; j++) {
      const bj = b[j]!;
      if (bj === 0) continue;
      const lo = Math.max(1, ai + bj - N);
      const hi = Math.min(ai, bj);
      if (hi < lo) continue;
      const mode = Math.min(hi, Math.max(lo, Math.floor(((ai + 1) * (bj + 1)) / (N + 2))));
      // ln P(n) = ln C(a, n) + ln C(N - a, b - n) - ln C(N, b)
      const lnP = (n: number) =>
        lf[ai]! -
        lf[n]! -
        lf[ai - n]! +
        lf[N - ai]! -
        lf[bj - n]! -
        lf[N - ai - bj + n]! -
        (lf[N]! - lf[bj]! - lf[N - bj]!);
      // In nats here; converted to bits once at the end.
      const lnNab = Math.log(N / (ai * bj));
      const term = (n: number, p: number) => p * n * (lnNab + Math.log(n));
      const p0 = Math.exp(lnP(mode));
      let sum = term(mode, p0);
      // Up: P(n+1)/P(n) = (a - n)(b - n) / ((n + 1)(N - a - b + n + 1))
      let p = p0;
      for (let n = mode; n < hi; n++) {
        p *= ((ai - n) * (bj - n)) / ((n + 1) * (N - ai - bj + n + 1));
        if (p < 1e-15 * p0) break;
        sum += term(n + 1, p);
      }
      p = p0;
      for (let n = mode; n > lo; n--) {
        p *= (n * (N - ai - bj + n)) / ((ai - n + 1) * (bj - n + 1));
        if (p < 1e-15 * p0) break;
        sum += term(n - 1, p);
      }
      emi += sum;
    }
  }
  return emi / (N * Math.LN2);
}

export interface DependenceMeasures {
  mutual_information_bits: number;
  /** What independent choices with the same margins give on average (finite-sample bias of MI). */
  expected_mi_bits: number;
  /** (MI - EMI) / (mean(H_from, H_to) - EMI): 0 = chance, 1 = one determines the other; null when undefined. */
  adjusted_mi: number | null;
  from_entropy_bits: number;
  to_entropy_bits: number;
}

export function dependence(t: Contingency): DependenceMeasures {
  const { a, b } = margins(t);
  const mi = mutualInformationBits(t);
  const emi = expectedMutualInformationBits(t);
  const ha = entropyBits(a);
  const hb = entropyBits(b);
  const denom = (ha + hb) / 2 - emi;
  return {
    mutual_information_bits: mi,
    expected_mi_bits: emi,
    adjusted_mi: denom > 1e-12 ? (mi - emi) / denom : null,
    from_entropy_bits: ha,
    to_entropy_bits: hb,
  };
}

/**
 * Jensen-Shannon divergence in bits of the distributions p = x / sum(x) and q = y / sum(y):
 * JSD = H((p + q) / 2) - (H(p) + H(q)) / 2, in [0, 1]. Null when either has no mass.
 */
export function jsDivergenceBits(x: ArrayLike<number>, y: ArrayLike<number>): number | null {
  const n = Math.max(x.length, y.length);
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += x[i] ?? 0;
    sy += y[i] ?? 0;
  }
  if (sx === 0 || sy === 0) return null;
  let hm = 0;
  let hp = 0;
  let hq = 0;
  for (let i = 0; i < n; i++) {
    const p = (x[i] ?? 0) / sx;
    const q = (y[i] ?? 0) / sy;
    const m = (p + q) / 2;
    if (m > 0) hm -= m * Math.log2(m);
    if (p > 0) hp -= p * Math.log2(p);
    if (q > 0) hq -= q * Math.log2(q);
  }
  return Math.min(1, Math.max(0, hm - (hp + hq) / 2));
}
