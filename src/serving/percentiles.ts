// Latency percentiles, defined once: linear interpolation between the two nearest order
// statistics (numpy's default "linear" method, Hyndman & Fan type 7; what `vllm bench serve`
// reports through np.percentile). For sorted x[0..n-1] and p in [0, 100]: h = (n - 1) p / 100,
// value = x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h]).

export const REPORTED_PERCENTILES = [50, 90, 99] as const;

export interface Distribution {
  count: number;
  mean: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
}

/** The p-th percentile (0..100) of already ascending-sorted values; null when there are none. */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number | null {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile ${p} is not in [0, 100]`);
  const n = sorted.length;
  if (n === 0) return null;
  const h = ((n - 1) * p) / 100;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/** Count, mean, p50/p90/p99 and max of `values` (seconds, or any unit: it is kept). */
export function distribution(values: readonly number[]): Distribution {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: n,
    mean: n ? sum / n : null,
    p50: percentileOfSorted(sorted, 50),
    p90: percentileOfSorted(sorted, 90),
    p99: percentileOfSorted(sorted, 99),
    max: n ? sorted[n - 1]! : null,
  };
}
