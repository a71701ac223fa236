// The one-pass stack simulation of every capacity against a plain per-capacity simulation
// (test/brute-force.ts), on hand-made and random sequences; access orders against plain sorting.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulateCache, capacityFor, CACHE_POLICIES } from "../src/analysis/cache-sim.js";
import { requestOrderSequence, stepOrderSequence, type LayerRows } from "../src/analysis/access-order.js";
import { bruteCacheHits, mulberry32, pickIds } from "./brute-force.js";

function check(seq: number[], E: number): void {
  for (const policy of CACHE_POLICIES) {
    const hits = simulateCache(Int32Array.from(seq), E, policy);
    assert.equal(hits.length, E + 1);
    assert.equal(hits[0], 0);
    for (let C = 1; C <= E; C++) {
      assert.equal(hits[C], bruteCacheHits(seq, E, C, policy), `${policy} C=${C} seq=${seq.join(",")}`);
    }
  }
}

test("hand-worked sequences", () => {
  // E=3, C=2, seq 0 1 2 0 1 2 ...: LRU always misses; OPT keeps one of the two it needs next.
  const cyc = [0, 1, 2, 0, 1, 2, 0, 1, 2];
  assert.equal(simulateCache(Int32Array.from(cyc), 3, "lru")[2], 0);
  // OPT at t=2 (miss on 2, cache {0,1}): next 0 at 3, next 1 at 4 -> evict 1; t=3 hit 0; t=4 miss 1
  // (cache {0,2}: next 0 at 6, 2 at 5 -> evict 0); t=5 hit 2; t=6 miss 0 (cache {2,1}: 2 never,
  // 1 at 7 -> evict 2); t=7 hit 1; t=8 miss 2. Hits: t=3,5,7 = 3.
  assert.equal(simulateCache(Int32Array.from(cyc), 3, "opt")[2], 3);
  // static C=2 pins the two most used (0,1,2 tie at 3 each -> lowest ids 0,1): 0 and 1 miss once each.
  assert.equal(simulateCache(Int32Array.from(cyc), 3, "static")[2], 4);
  // LFU: 0 0 1 2 1 with C=2: t=3 miss 2, cache {0 (2 uses), 1 (1 use)} -> evict 1; t=4 1 misses.
  assert.equal(simulateCache(Int32Array.from([0, 0, 1, 2, 1]), 3, "lfu")[2], 1);
  // ... while LRU evicts 0 (least recent) and then hits 1.
  assert.equal(simulateCache(Int32Array.from([0, 0, 1, 2, 1]), 3, "lru")[2], 2);
  // OPT: 5 3 4 5 with C=2: at t=2 (cache {5,3}) 3 is never used again and goes; 5 hits at t=3.
  // (Which of several never-used-again experts goes cannot change the hits, only the contents.)
  assert.equal(simulateCache(Int32Array.from([5, 3, 4, 5]), 6, "opt")[2], 1);
  check([2, 1, 0, 0, 2, 1], 3);
  // All policies agree at C = E: only first accesses miss.
  for (const p of CACHE_POLICIES) assert.equal(simulateCache(Int32Array.from(cyc), 3, p)[3], 6);
});

test("every policy and capacity equals the per-capacity simulation on random sequences", () => {
  const rnd = mulberry32(42);
  for (let trial = 0; trial < 300; trial++) {
    const E = 1 + Math.floor(rnd() * 9);
    const n = Math.floor(rnd() * 60);
    const skew = 0.5 + rnd() * 3;
    const seq = Array.from({ length: n }, () => pickIds(rnd, E, 1, skew)[0]!);
    check(seq, E);
  }
  check([], 4);
});

test("capacity_for: the smallest listed capacity reaching each target", () => {
  assert.deepEqual(capacityFor([1, 2, 4, 8], [0.1, 0.5, 0.9, 0.95], [0.5, 0.9, 0.99]), {
    "0.5": 2,
    "0.9": 4,
    "0.99": null,
  });
  // 9/10 computed in floating point still counts as 0.9.
  assert.deepEqual(capacityFor([3], [0.30000000000000004 * 3], [0.9]), { "0.9": 3 });
  assert.deepEqual(capacityFor([1], [null], [0.5]), { "0.5": null });
});

function rowsOf(list: { req: number; token: number; step: number; ids: number[] }[], k: number): LayerRows {
  return {
    count: list.length,
    k,
    req: Int32Array.from(list.map((r) => r.req)),
    token: Float64Array.from(list.map((r) => r.token)),
    step: Float64Array.from(list.map((r) => r.step)),
    ids: Int32Array.from(list.flatMap((r) => r.ids)),
  };
}

test("access orders: request order sorts by (request, token), step order dedupes per step", () => {
  const rnd = mulberry32(7);
  for (let trial = 0; trial < 100; trial++) {
    const k = 1 + Math.floor(rnd() * 3);
    const E = k + Math.floor(rnd() * 6);
    const list = Array.from({ length: Math.floor(rnd() * 30) }, (_, i) => ({
      req: Math.floor(rnd() * 4),
      token: i * 3 + Math.floor(rnd() * 3), // distinct tokens, shuffled below
      step: Math.floor(rnd() * 5),
      ids: pickIds(rnd, E, k, 1),
    }));
    for (let i = list.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [list[i], list[j]] = [list[j]!, list[i]!];
    }
    const byReq = [...list].sort((a, b) => a.req - b.req || a.token - b.token).flatMap((r) => r.ids);
    assert.deepEqual([...requestOrderSequence(rowsOf(list, k))], byReq);
    const steps = [...new Set(list.map((r) => r.step))].sort((a, b) => a - b);
    const byStep = steps.flatMap((s) =>
      [...new Set(list.filter((r) => r.step === s).flatMap((r) => r.ids))].sort((a, b) => a - b),
    );
    const got = stepOrderSequence(rowsOf(list, k), E);
    assert.deepEqual([...got.seq], byStep);
    assert.equal(got.steps, steps.length);
  }
});
