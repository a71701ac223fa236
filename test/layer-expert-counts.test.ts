import { test } from "node:test";
import assert from "node:assert/strict";
import { LayerExpertCounts } from "../src/analysis/layer-expert-counts.js";

test("per-layer expert counts equal a Map count, whether or not num_experts was declared (widening keeps counts)", () => {
  let seed = 7;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const adds = Array.from({ length: 5000 }, () => [rand(3), rand(300)] as const);
  const brute = new Map<string, number>();
  for (const [l, e] of adds) brute.set(`${l},${e}`, (brute.get(`${l},${e}`) ?? 0) + 1);
  for (const declared of [300, undefined, 2]) {
    const c = new LayerExpertCounts(3, declared);
    for (const [l, e] of adds) c.add(l, e);
    for (let l = 0; l < 3; l++)
      for (let e = 0; e < c.counts[l]!.length; e++)
        assert.equal(c.counts[l]![e], brute.get(`${l},${e}`) ?? 0, `${declared} ${l} ${e}`);
    assert.ok(c.counts.every((a) => a.length >= 300));
  }
});
