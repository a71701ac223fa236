// RunList against the simplest possible model: a Set of positions.
import { test } from "node:test";
import assert from "node:assert/strict";
import { RunList } from "../src/routes/run-list.js";
import { mulberry32 } from "./brute-force.js";

function runsOf(set: Set<number>): number[] {
  const xs = [...set].sort((a, b) => a - b);
  const out: number[] = [];
  for (const x of xs) {
    if (out.length && out[out.length - 1] === x - 1) out[out.length - 1] = x;
    else out.push(x, x);
  }
  return out;
}

function check(list: RunList, model: Set<number>, what: string): void {
  const runs = runsOf(model);
  assert.deepEqual(list.toFlat(), runs, what);
  assert.equal(list.size, model.size, what);
  assert.equal(list.runs, runs.length / 2, what);
  assert.equal(list.min, runs.length ? runs[0] : -1);
  assert.equal(list.max, runs.length ? runs[runs.length - 1] : -1);
  assert.ok(
    list.capacity >= list.runs && list.capacity <= 2 * list.runs + 256,
    `${what}: capacity ${list.capacity} for ${list.runs} runs`,
  );
}

test("points and ranges in random, ascending and descending order, with and without gaps, match a Set", () => {
  const orders: [string, (n: number, r: () => number) => number[]][] = [
    ["random", (n, r) => Array.from({ length: n }, () => Math.floor(r() * n * 1.5))],
    ["ascending gaps", (n) => Array.from({ length: n }, (_, i) => 2 * i)],
    ["descending gaps", (n) => Array.from({ length: n }, (_, i) => 2 * (n - i))],
    ["descending", (n) => Array.from({ length: n }, (_, i) => n - i)],
    ["interleaved", (n) => Array.from({ length: n }, (_, i) => (i % 2 ? i : 3 * n - i))],
  ];
  for (const [name, gen] of orders) {
    for (const seed of [1, 2, 3]) {
      const r = mulberry32(seed);
      const list = new RunList();
      const model = new Set<number>();
      const n = 3000;
      for (const [k, t] of gen(n, r).entries()) {
        // now and then a range instead of a point
        const len = r() < 0.1 ? 1 + Math.floor(r() * 5) : 1;
        const range = Array.from({ length: len }, (_, j) => t + j);
        const fresh = range.every((x) => !model.has(x));
        assert.equal(list.add(t, t + len - 1), fresh, `${name} #${k}: add [${t}, ${t + len - 1}]`);
        if (fresh) for (const x of range) model.add(x);
        if (k % 500 === 0) check(list, model, `${name} seed ${seed} after ${k}`);
      }
      check(list, model, `${name} seed ${seed}`);
    }
  }
});

test("descending positions with gaps: blocks stay bounded, so no insertion moves more than 256 runs", () => {
  const list = new RunList();
  const n = 400_000;
  for (let i = n; i > 0; i--) list.add(2 * i, 2 * i);
  assert.equal(list.runs, n);
  // A flat array moves ~n^2/2 runs here (74 s measured for this shape); blocks of <= 256 runs
  // bound each insertion's move. Speed itself is measured in scripts/, not asserted here.
  assert.ok(list.largestBlock <= 256, `largest block ${list.largestBlock}`);
  assert.ok(list.capacity <= 2 * n, `capacity ${list.capacity}`);
});
