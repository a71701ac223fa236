import { test } from "node:test";
import assert from "node:assert/strict";
import { checkConservation } from "../src/analysis/conservation.js";
import { compareOutputs } from "../src/analysis/compare-outputs.js";

const expected = [
  { promptTokens: 5, outputTokens: 3 }, // 7 rows at 0..6
  { promptTokens: 2, outputTokens: 1 }, // 2 rows at 0..1
];
const row = (req_id: string, n: number[], min: number, max: number) => ({
  req_id,
  rows_per_layer: n,
  min_token_idx: min,
  max_token_idx: max,
});

test("P + G - 1 rows at 0..P+G-2 in every layer: ok", () => {
  const r = checkConservation(expected, [row("0", [7, 7], 0, 6), row("1", [2, 2], 0, 1)], [0, 1]);
  assert.equal(r.ok, true);
  assert.equal(r.expected_rows_per_layer, 9);
  assert.deepEqual(r.violations, []);
});

test("a row too many (the last sampled token logged) is a violation naming request and layer", () => {
  const r = checkConservation(expected, [row("0", [8, 8], 0, 7), row("1", [2, 2], 0, 1)], [3, 9]);
  assert.equal(r.ok, false);
  assert.deepEqual(r.violations.slice(0, 3), [
    "request 0, layer 3: 8 rows, expected 7 (P=5, G=3)",
    "request 0, layer 9: 8 rows, expected 7 (P=5, G=3)",
    "request 0: token_idx 0..7, expected 0..6 (P=5, G=3)",
  ]);
});

test("missing requests, shifted positions and unmeasured requests (e.g. warm-up) are violations", () => {
  const r = checkConservation(expected, [row("1", [2], 1, 2), row("7", [4], 0, 3)], [0]);
  assert.deepEqual(r.violations, [
    "request 0: no rows in the log, expected 7 per layer (P=5, G=3)",
    "request 1: token_idx 1..2, expected 0..1 (P=2, G=1)",
    'rows for request "7", which the run did not measure',
  ]);
});

test("violations are capped so a broken log cannot flood the summary", () => {
  const many = Array.from({ length: 50 }, () => ({ promptTokens: 1, outputTokens: 1 }));
  const r = checkConservation(many, [], [0]);
  assert.equal(r.violations.length, 21);
  assert.equal(r.violations[20], "... and 30 more");
});

test("compareOutputs finds the first differing position per request", () => {
  const c = compareOutputs(
    [[1, 2, 3], [4, 5], [6]],
    [
      [1, 2, 3],
      [4, 9],
      [6, 7],
    ],
  );
  assert.equal(c.identical, 1);
  assert.deepEqual(c.diverged, [
    { request: 1, firstDifferentPosition: 1, lengths: [2, 2] },
    { request: 2, firstDifferentPosition: 1, lengths: [1, 2] },
  ]);
});

test("vLLM async scheduling: a request that stopped early has one more row, at P+G-1", () => {
  const exp = [
    { promptTokens: 5, outputTokens: 3, extraRows: 1 }, // stopped on EOS before max_tokens: 8 rows at 0..7
    { promptTokens: 2, outputTokens: 4, extraRows: 0 }, // reached max_tokens: 5 rows at 0..4
  ];
  const ok = checkConservation(exp, [row("0", [8], 0, 7), row("1", [5], 0, 4)], [0]);
  assert.equal(ok.ok, true);
  assert.equal(ok.expected_rows_per_layer, 13);
  assert.equal(ok.rows_computed_after_stop, 1);
  const bad = checkConservation(exp, [row("0", [7], 0, 6), row("1", [5], 0, 4)], [0]);
  assert.deepEqual(bad.violations, [
    "request 0, layer 0: 7 rows, expected 8 (P=5, G=3, +1 row computed after the stop)",
    "request 0: token_idx 0..6, expected 0..7 (P=5, G=3, +1 row computed after the stop)",
  ]);
});

test("expected rows per pass: +1 only for vLLM async scheduling and requests that stopped early", async () => {
  const { expectedRows } = await import("../src/passes/check-passes.js");
  const pass = (asyncScheduling: boolean) =>
    ({
      planned: { pass: "log", repeat: 1, label: "log", routesPath: null },
      record: {},
      outcome: {
        wallS: 1,
        ready: {
          type: "ready",
          pass_name: "log",
          load_s: 1,
          engine: { engine: "vllm", async_scheduling: asyncScheduling },
        },
        result: {
          type: "result",
          pass_name: "log",
          generate_s: 1,
          warmup_s: 0,
          routes: null,
          max_tokens: 4,
          prompt_token_counts: [5, 6],
          output_token_ids: [
            [1, 2],
            [1, 2, 3, 4],
          ],
          finish_reasons: ["stop", "length"],
        },
      },
    }) as unknown as Parameters<typeof expectedRows>[0];
  assert.deepEqual(expectedRows(pass(true)), [
    { promptTokens: 5, outputTokens: 2, cachedTokens: 0, extraRows: 1 },
    { promptTokens: 6, outputTokens: 4, cachedTokens: 0, extraRows: 0 },
  ]);
  assert.deepEqual(
    expectedRows(pass(false)).map((e) => e.extraRows),
    [0, 0],
  );
});

test("prefix caching: C cached prompt tokens are never computed, rows start at C", () => {
  const cached = [{ promptTokens: 40, outputTokens: 5, cachedTokens: 32 }]; // 12 rows at 32..43
  assert.equal(checkConservation(cached, [row("0", [12, 12], 32, 43)], [0, 1]).ok, true);
  const r = checkConservation(cached, [row("0", [44], 0, 43)], [0]);
  assert.deepEqual(r.violations, [
    "request 0, layer 0: 44 rows, expected 12 (P=40, G=5, C=32 cached)",
    "request 0: token_idx 0..43, expected 32..43 (P=40, G=5, C=32 cached)",
  ]);
});
