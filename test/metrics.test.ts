// Every metric against values worked out by hand (the arithmetic is in the comments).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  entropyBits,
  normalizedEntropy,
  loadStats,
  gini,
  deadExperts,
  utilization,
  topExperts,
  topPairs,
  repetition,
} from "../src/analysis/metrics.js";

const close = (a: number | null, b: number, eps = 1e-12) =>
  assert.ok(a !== null && Math.abs(a - b) < eps, `${a} != ${b}`);

test("entropy in bits", () => {
  close(entropyBits([1, 1, 1, 1]), 2); // uniform over 4: log2 4
  close(entropyBits([5, 0, 0]), 0); // all mass on one expert
  close(entropyBits([2, 2, 0, 0]), 1);
  // p = [0.5, 0.25, 0.25]: 0.5*1 + 2*0.25*2 = 1.5
  close(entropyBits([2, 1, 1]), 1.5);
  assert.equal(entropyBits([0, 0]), 0);
});

test("normalized entropy", () => {
  close(normalizedEntropy([3, 3, 3, 3]), 1);
  close(normalizedEntropy([2, 1, 1, 0]), 1.5 / 2); // 1.5 bits of max log2 4 = 2
  assert.equal(normalizedEntropy([4]), null);
  assert.equal(normalizedEntropy([0, 0]), null);
});

test("load: max, mean, max/mean, CV", () => {
  // [5,6,3,6]: sum 20, mean 5, max 6 -> 1.2; deviations 0,1,-2,1 -> var 6/4 -> sd sqrt(1.5)
  const l = loadStats([5, 6, 3, 6]);
  assert.equal(l.max, 6);
  assert.equal(l.mean, 5);
  close(l.max_over_mean, 1.2);
  close(l.cv, Math.sqrt(1.5) / 5);
  const z = loadStats([0, 0]);
  assert.equal(z.max_over_mean, null);
  assert.equal(z.cv, null);
});

test("Gini", () => {
  close(gini([1, 1, 1, 1]), 0);
  close(gini([0, 0, 0, 8]), 0.75); // one of four takes all: (E-1)/E
  // sorted [3,5,6,6]: sum i*x = 3+10+18+24 = 55; 2*55/(4*20) - 5/4 = 0.125
  close(gini([5, 6, 3, 6]), 0.125);
  assert.equal(gini([0, 0]), null);
});

test("dead experts and utilization", () => {
  assert.deepEqual(deadExperts([2, 0, 4, 0]), [1, 3]);
  close(utilization([2, 0, 4, 0]), 0.5);
  close(utilization([1, 1]), 1);
});

test("top experts: by count, ties to the lower id, share of all assignments", () => {
  assert.deepEqual(topExperts([5, 6, 3, 6, 0], 3), [
    { expert: 1, count: 6, share: 0.3 },
    { expert: 3, count: 6, share: 0.3 },
    { expert: 0, count: 5, share: 0.25 },
  ]);
  assert.deepEqual(topExperts([0, 2], 5), [{ expert: 1, count: 2, share: 1 }]); // unused experts are not "top"
});

test("top pairs: share of rows routing to both, lift over independence", () => {
  // 3 experts, 4 rows: {0,1},{0,1},{1,2},{0,2}; counts [3,3,2]
  const E = 3;
  const pairs = new Float64Array(E * E);
  pairs[0 * E + 1] = 2;
  pairs[1 * E + 2] = 1;
  pairs[0 * E + 2] = 1;
  const t = topPairs(pairs, E, [3, 3, 2], 4, 2);
  assert.equal(t.length, 2);
  assert.deepEqual(t[0]!.experts, [0, 1]);
  assert.equal(t[0]!.rows, 2);
  close(t[0]!.share, 0.5);
  close(t[0]!.lift, 0.5 / ((3 / 4) * (3 / 4))); // 0.888...
  assert.deepEqual(t[1]!.experts, [0, 2]); // ties: lower first id
  close(t[1]!.share, 0.25);
});

test("top-1 repetition rate and its 1/E baseline", () => {
  const r = repetition(6, 5, 4);
  close(r.rate, 5 / 6);
  close(r.baseline, 0.25);
  assert.equal(repetition(0, 0, 4).rate, null);
});
