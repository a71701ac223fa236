// Memory of validate/hist is bounded by limits.ts whatever the rows: shapes beyond a limit are
// refused in one line (exit 1), up front where the meta line declares them; gapped and
// descending positions cost a stated amount, independent of their order.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { CLI, META, tempDir, writeLog } from "./helpers.js";
import { RowCoverage } from "../src/routes/coverage.js";
import { LimitExceeded, MAX_LAYER_EXPERT_CELLS, MAX_REQUEST_LAYER_PAIRS } from "../src/routes/limits.js";
import {
  expertHeatmapSpec,
  expertHistSpec,
  MAX_BARS,
  MAX_HEATMAP_COLUMNS,
  MAX_HEATMAP_ROWS,
} from "../src/render/specs.js";
import type { HistSummary } from "../src/analysis/summary.js";

const cli = (args: string[]) => execa(process.execPath, [CLI, ...args], { reject: false, timeout: 120_000 });
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function shapeLog(
  layers: number,
  experts: number | undefined,
  opts: { ids?: (l: number) => number[]; topK?: number } = {},
): string {
  const k = opts.topK ?? 2;
  const meta = {
    ...META,
    layers_logged: range(layers),
    top_k: k,
    ...(experts === undefined ? {} : { num_experts: experts }),
  };
  const lines = [JSON.stringify(meta)];
  for (const l of range(layers)) {
    const ids = opts.ids?.(l) ?? range(k).map((j) => (l * 7 + j * 3) % (experts ?? 64));
    lines.push(
      JSON.stringify({
        type: "route",
        req_id: "0",
        token_idx: 0,
        layer: l,
        topk_ids: ids,
        topk_weights: ids.map(() => 1 / k),
      }),
    );
  }
  return writeLog(lines);
}

/** Refused by validate and hist, and by hist --lenient too unless the problem is one bad row it may skip. */
async function refusedByBoth(log: string, message: RegExp, lenientSkips = false): Promise<void> {
  const out = tempDir();
  const runs = [
    ["validate", log],
    ["hist", log, "--out", out],
  ];
  if (!lenientSkips) runs.push(["hist", log, "--out", out, "--lenient"]);
  for (const args of runs) {
    const r = await cli(args);
    assert.equal(r.exitCode, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /internal error|heap|\n\s+at /);
  }
  assert.deepEqual(readdirSync(out), [], "nothing written");
}

test("65,536 experts x 256..4,096 layers declared in the meta line: refused at line 1, exit 1", async () => {
  for (const layers of [256, 1024, 4096]) {
    const log = shapeLog(layers, 65_536);
    await refusedByBoth(
      log,
      new RegExp(
        `^moe-prof: .*:1: num_experts: 65536 experts x ${layers} layers logged = ${65_536 * layers} counters: over moe-prof's limit of ${MAX_LAYER_EXPERT_CELLS} \\(README "Limits"\\)$`,
      ),
    );
  }
});

test("without num_experts, an id beyond what the layer x expert limit allows is refused at its row", async () => {
  const log = shapeLog(4096, undefined, { ids: (l) => (l === 3 ? [256, 5] : [1, 2]) });
  await refusedByBoth(
    log,
    /^moe-prof: .*:5: topk_ids\[0\]: must be < 256: with num_experts not declared and 4096 layers logged, moe-prof.s limit of 1048576 layer x expert counters allows ids up to 255/,
    true,
  );
  // a bad row like any other: --lenient skips it, and the counters stay within the limit
  const l = await cli(["hist", log, "--out", tempDir(), "--lenient", "--json"]);
  assert.equal(l.exitCode, 0, l.stderr);
  assert.match(l.stderr, /skipped .*:5: topk_ids\[0\]: must be < 256/);
});

test("top_k beyond the limit is refused at line 1", async () => {
  await refusedByBoth(
    shapeLog(2, 1024, { topK: 257 }),
    /:1: top_k: must be <= 256 \(moe-prof's limit, README "Limits"\)$/,
  );
});

test("the largest allowed shape (16 layers x 65,536 experts) is analysed, and drawn in groups", async () => {
  const log = shapeLog(16, 65_536, { ids: (l) => [l, 65_535 - l] });
  const out = tempDir();
  const r = await cli(["hist", log, "--out", out, "--json"]);
  assert.equal(r.exitCode, 0, r.stderr);
  const s = JSON.parse(r.stdout) as HistSummary;
  assert.equal(s.layers.length, 16);
  assert.equal(s.overall.counts.length, 65_536);
  assert.equal(s.overall.counts[65_535], 1);
  assert.ok(existsSync(path.join(out, "expert_heatmap.png")));
  const bars = (expertHistSpec(s) as { layer: { data: { values: unknown[] } }[] }).layer[0]!.data.values;
  assert.equal(bars.length, MAX_BARS);
  const cells = (expertHeatmapSpec(s) as { data: { values: { count: number }[] } }).data.values;
  assert.ok(cells.length <= MAX_HEATMAP_COLUMNS * MAX_HEATMAP_ROWS, `${cells.length} cells`);
  assert.equal(
    cells.reduce((a, c) => a + c.count, 0),
    32,
    "grouping keeps every assignment",
  );
});

test("requests x layers beyond the limit: refused at the row of the first request over it", async () => {
  const layers = 4096;
  const over = MAX_REQUEST_LAYER_PAIRS / layers + 1;
  const lines = [JSON.stringify({ ...META, layers_logged: range(layers), top_k: 1, num_experts: 4 })];
  for (let r = 0; r < over; r++)
    lines.push(
      JSON.stringify({ type: "route", req_id: `r${r}`, token_idx: 0, layer: 0, topk_ids: [0], topk_weights: [1] }),
    );
  await refusedByBoth(
    writeLog(lines),
    new RegExp(
      `^moe-prof: .*:${over + 1}: req_id: request ${over} with ${layers} layers logged: over moe-prof's limit of ${MAX_REQUEST_LAYER_PAIRS} requests x layers`,
    ),
  );
});

test("gapped and descending positions: exact, valid, and their cost does not depend on the order", () => {
  const n = 200_000;
  const costs: number[] = [];
  for (const order of [range(n), range(n).reverse(), range(n).map((i) => (i * 7919) % n)]) {
    const c = new RowCoverage([0, 1]);
    const r = c.requestIndex("a");
    for (const i of order) for (const li of [0, 1]) assert.equal(c.add(r, li, 2 * i), true);
    assert.equal(c.add(r, 1, 2 * order[5]!), false, "a duplicate is still caught");
    assert.deepEqual(c.missingRows(), []);
    assert.deepEqual(c.requests()[0], {
      req_id: "a",
      rows_per_layer: [n, n],
      tokens: n,
      min_token_idx: 0,
      max_token_idx: 2 * (n - 1),
    });
    costs.push(c.extraRunsCharged);
  }
  // 2 layers x n runs, at most twice that allocated (blocks grow by doubling) plus per-list overhead
  for (const cost of costs) assert.ok(cost >= 2 * n && cost <= 4 * n + 1000, `charged ${cost}`);

  // and beyond the budget the log is refused, not grown
  const small = new RowCoverage([0], { requests: 10, requestLayerPairs: 10, reqIdChars: 100, extraRuns: 1000 });
  const r = small.requestIndex("a");
  assert.throws(
    () => {
      for (let i = 0; i < 10_000; i++) small.add(r, 0, 2 * i);
    },
    (e: unknown) =>
      e instanceof LimitExceeded &&
      e.field === "token_idx" &&
      /positions too fragmented: .* more than 1000 separate runs/.test(e.message),
  );
  assert.ok(small.extraRunsCharged <= 1000 + 300);
});

test("a log of 400,000 rows with descending gaps validates and is analysed (was quadratic: 74 s)", async () => {
  const dir = tempDir();
  const log = path.join(dir, "moe_routes.jsonl");
  const meta = { ...META, layers_logged: [0], top_k: 2, num_experts: 8 };
  const parts = [JSON.stringify(meta)];
  for (let i = 400_000; i > 0; i--)
    parts.push(
      `{"type":"route","req_id":"0","token_idx":${2 * i},"layer":0,"topk_ids":[${i % 8},${(i + 1) % 8}],"topk_weights":[0.5,0.5]}`,
    );
  writeFileSync(log, parts.join("\n") + "\n");
  const v = await cli(["validate", log]);
  assert.equal(v.exitCode, 0, v.stderr);
  assert.match(v.stdout, /valid: 400000 rows, 1 request,/);
  const h = await cli(["hist", log, "--json", "--out", dir]);
  assert.equal(h.exitCode, 0, h.stderr);
  const s = JSON.parse(h.stdout) as HistSummary;
  assert.deepEqual(
    [s.per_request[0]!.tokens, s.per_request[0]!.min_token_idx, s.per_request[0]!.max_token_idx],
    [400_000, 2, 800_000],
  );
});
