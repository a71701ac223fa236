import { test } from "node:test";
import assert from "node:assert/strict";
import { RowCoverage, unionIntervals, intervalsSize } from "../src/routes/coverage.js";

test("in-order rows keep one interval; duplicates are caught", () => {
  const c = new RowCoverage([0, 1]);
  const r = c.requestIndex("a");
  for (let t = 0; t < 100; t++) assert.equal(c.add(r, 0, t), true);
  assert.equal(c.add(r, 0, 50), false);
  assert.equal(c.add(r, 0, 0), false);
  assert.equal(c.add(r, 0, 99), false);
  assert.deepEqual(c.requests()[0]!.rows_per_layer, [100, 0]);
});

test("out-of-order rows merge exactly and duplicates are still caught", () => {
  const c = new RowCoverage([7]);
  const r = c.requestIndex("x");
  const order = [10, 12, 0, 11, 5, 3, 4, 1, 2, 8, 6, 7, 9];
  for (const t of order) assert.equal(c.add(r, 0, t), true, `add ${t}`);
  for (const t of order) assert.equal(c.add(r, 0, t), false, `dup ${t}`);
  const req = c.requests()[0]!;
  assert.equal(req.tokens, 13);
  assert.equal(req.min_token_idx, 0);
  assert.equal(req.max_token_idx, 12);
  assert.equal(c.add(r, 0, 20), true);
  assert.equal(c.add(r, 0, 15), true);
  assert.equal(c.add(r, 0, 15), false);
  assert.equal(c.requests()[0]!.rows_per_layer[0], 15);
});

test("missing rows: first missing position per (layer, request) and how many", () => {
  const c = new RowCoverage([0, 1, 2]);
  const a = c.requestIndex("a");
  const b = c.requestIndex("b");
  for (let t = 0; t < 10; t++) {
    c.add(a, 0, t);
    if (t !== 4 && t !== 7) c.add(a, 1, t);
    c.add(a, 2, t);
    c.add(b, 0, t);
    c.add(b, 1, t);
  }
  c.add(a, 2, 10); // only layer 2 has position 10
  assert.deepEqual(c.missingRows(), [
    { layer: 0, req_id: "a", token_idx: 10, missing: 1 },
    { layer: 1, req_id: "a", token_idx: 4, missing: 3 },
    { layer: 2, req_id: "b", token_idx: 0, missing: 10 },
  ]);
});

test("interval union and size", () => {
  assert.deepEqual(unionIntervals([0, 2, 10, 12], [3, 5, 8, 9]), [0, 5, 8, 12]);
  assert.deepEqual(unionIntervals([], [4, 4]), [4, 4]);
  assert.equal(intervalsSize([0, 5, 8, 12]), 11);
});
