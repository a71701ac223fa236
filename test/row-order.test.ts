// compare's row order against the plain comparator sort (the brute force): random buckets with
// tokens in and out of order, repeated (request, layer) groups, layers past the key's span.
import { test } from "node:test";
import assert from "node:assert/strict";
import { comparatorOrder, orderRows } from "../src/analysis/row-order.js";
import { mulberry32 } from "../src/random.js";

test("orderRows equals the stable comparator sort on random buckets", () => {
  const rand = mulberry32(7);
  const int = (n: number) => Math.floor(rand() * n);
  for (let trial = 0; trial < 300; trial++) {
    const count = int(400);
    const req = new Int32Array(count);
    const layer = new Int32Array(count);
    const token = new Float64Array(count);
    const inOrder = trial % 3 === 0;
    const hugeLayer = trial % 50 === 7;
    for (let i = 0; i < count; i++) {
      req[i] = int(trial % 2 ? 5 : 100000);
      layer[i] = hugeLayer && i === 0 ? 1 << 21 : int(24);
      token[i] = inOrder ? i : int(30); // repeated tokens: ties keep index order
    }
    assert.deepEqual(orderRows(count, req, layer, token), comparatorOrder(count, req, layer, token), `trial ${trial}`);
  }
});

test("comparatorOrder is the plain (req, layer, token) order", () => {
  const got = comparatorOrder(4, [2, 1, 1, 1], [0, 3, 1, 1], [0, 0, 5, 4]);
  assert.deepEqual([...got], [3, 2, 1, 0]);
});
