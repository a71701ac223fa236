// The fast route check must accept exactly what the zod route schema accepts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { makeRouteCheck } from "../src/routes/route-check.js";
import { routeSchema, MAX_EXPERT_ID, type RouteRules } from "../src/routes/schema.js";
import { mulberry32 } from "./brute-force.js";

const ODD_VALUES: unknown[] = [
  null,
  true,
  false,
  "",
  "0",
  "route",
  "meta",
  "prefill",
  "decode",
  "PREFILL",
  0,
  -0,
  1,
  -1,
  2,
  3,
  5,
  1.5,
  0.25,
  1e-9,
  1.0000001,
  -1e-9,
  59,
  60,
  61,
  65535,
  65536,
  1e21,
  Number.MAX_SAFE_INTEGER,
  [],
  [0],
  [0, 1],
  [1, 0],
  [0, 0],
  [0, 1, 2],
  [0.5, 0.5],
  ["0", 1],
  [0, null],
  [0.2, 1.2],
  [-0.1, 0.5],
  {},
  { a: 1 },
];
const KEYS = ["type", "req_id", "token_idx", "layer", "topk_ids", "topk_weights", "phase", "token_id", "step", "extra"];

test("fast route check agrees with the zod schema on many valid and mutated rows", () => {
  const rulesList: RouteRules[] = [
    { layers: [0, 3, 5], topK: 2, expertLimit: 60 },
    { layers: [1], topK: 1, expertLimit: MAX_EXPERT_ID + 1 },
    { layers: [0, 1, 2], topK: 3, expertLimit: 4 },
  ];
  const rnd = mulberry32(42);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  let accepted = 0;
  let rejected = 0;
  for (const rules of rulesList) {
    const check = makeRouteCheck(rules);
    const schema = routeSchema(rules);
    for (let n = 0; n < 4000; n++) {
      const ids: number[] = [];
      while (ids.length < rules.topK) {
        const id = Math.floor(rnd() * rules.expertLimit);
        if (!ids.includes(id)) ids.push(id);
      }
      const row: Record<string, unknown> = {
        type: "route",
        req_id: String(Math.floor(rnd() * 5)),
        token_idx: Math.floor(rnd() * 100),
        layer: pick(rules.layers),
        topk_ids: ids,
        topk_weights: ids.map(() => Math.round(rnd() * 1000) / 1000),
      };
      if (rnd() < 0.5) row.phase = pick(["prefill", "decode"]);
      if (rnd() < 0.3) row.step = Math.floor(rnd() * 10);
      if (rnd() < 0.3) row.token_id = Math.floor(rnd() * 1000);
      // 0 to 2 mutations: replace or delete a key.
      const mutations = Math.floor(rnd() * 3);
      for (let m = 0; m < mutations; m++) {
        const key = pick(KEYS);
        if (rnd() < 0.2) delete row[key];
        else row[key] = pick(ODD_VALUES);
      }
      const fast = check(row);
      const zod = schema.safeParse(row).success;
      assert.equal(fast, zod, `disagree on ${JSON.stringify(row)} with ${JSON.stringify(rules)}`);
      if (fast) accepted++;
      else rejected++;
    }
  }
  // Both outcomes must be well represented, or the comparison proves little.
  assert.ok(accepted > 2000 && rejected > 2000, `accepted ${accepted}, rejected ${rejected}`);
});

test("fast route check rejects non-objects", () => {
  const check = makeRouteCheck({ layers: [0], topK: 1, expertLimit: 4 });
  for (const v of [null, [], "route", 3, undefined]) assert.equal(check(v), false);
  assert.equal(check({ type: "route", req_id: "a", token_idx: 0, layer: 0, topk_ids: [3], topk_weights: [1] }), true);
});
