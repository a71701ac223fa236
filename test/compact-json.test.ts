// The compact JSON writer must mean exactly what JSON.stringify means.
import { test } from "node:test";
import assert from "node:assert/strict";
import { toCompactJson } from "../src/artifacts/compact-json.js";
import { mulberry32 } from "./brute-force.js";

function randomValue(rnd: () => number, depth: number): unknown {
  const r = rnd();
  if (depth > 3 || r < 0.3)
    return [0, -1.5, 1e-300, 7, 'a"b\n', null, true, false, undefined, NaN, Infinity][Math.floor(rnd() * 11)];
  if (r < 0.6) return Array.from({ length: Math.floor(rnd() * 5) }, () => randomValue(rnd, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = 0; i < Math.floor(rnd() * 5); i++)
    o[`k${i}${rnd() < 0.2 ? '\u00fc"' : ""}`] = randomValue(rnd, depth + 1);
  return o;
}

test("toCompactJson parses back to what JSON.stringify gives", () => {
  const rnd = mulberry32(1);
  for (let i = 0; i < 500; i++) {
    const v = randomValue(rnd, 0);
    const want = JSON.stringify(v);
    if (want === undefined) continue;
    assert.deepEqual(JSON.parse(toCompactJson(v)), JSON.parse(want));
  }
  assert.equal(
    toCompactJson({ a: [1, 2], b: [{ c: [3] }], d: undefined, e: [] }),
    '{\n  "a": [1, 2],\n  "b": [\n    {\n      "c": [3]\n    }\n  ],\n  "e": []\n}\n',
  );
  assert.equal(
    toCompactJson({
      m: [
        [1, 2],
        [3, 4],
      ],
    }),
    '{\n  "m": [\n    [1, 2],\n    [3, 4]\n  ]\n}\n',
  );
});
