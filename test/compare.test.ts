// compare against a plain computation from the two logs' lines: JS divergence per layer, moved
// experts, and the row-by-row join (agreement, overlap, first divergences, unmatched rows), with
// one and with several request buckets.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { runCompare } from "../src/commands/compare/index.js";
import type { CompareReport } from "../src/analysis/compare.js";
import { perturbRoutes } from "../scripts/perturb-routes.js";
import { CLI, ROOT, tempDir, writeLog } from "./helpers.js";
import { parseLog, randomLog, top1, mulberry32, pickIds, type Row } from "./brute-force.js";

const close = (a: number | null | undefined, b: number | null, eps = 1e-9) =>
  b === null ? assert.equal(a, null) : assert.ok(a != null && Math.abs(a - b) <= eps, `${a} != ${b}`);
const RECORDED = path.join(ROOT, "fixtures/recorded/hf-smoke-h100/moe_routes.jsonl");

function jsdByHand(x: number[], y: number[]): number {
  const sx = x.reduce((a, b) => a + b, 0);
  const sy = y.reduce((a, b) => a + b, 0);
  const H = (p: number[]) => -p.filter((v) => v > 0).reduce((s, v) => s + v * Math.log2(v), 0);
  const p = x.map((v) => v / sx);
  const q = y.map((v) => v / sy);
  return H(p.map((v, i) => (v + q[i]!) / 2)) - (H(p) + H(q)) / 2;
}

function checkAgainstLines(textA: string, textB: string, r: CompareReport): void {
  const A = parseLog(textA);
  const B = parseLog(textB);
  const E = r.num_experts;
  const layers = (A.meta.layers_logged as number[])
    .filter((l) => (B.meta.layers_logged as number[]).includes(l))
    .sort((a, b) => a - b);
  assert.deepEqual(r.layers, layers);
  const counts = (rows: Row[], l: number | null) => {
    const c = Array(E).fill(0);
    for (const row of rows)
      if ((l === null && layers.includes(row.layer)) || row.layer === l) for (const e of row.topk_ids) c[e]++;
    return c;
  };
  for (const lr of r.distribution.layers) {
    const ca = counts(A.rows, lr.layer);
    const cb = counts(B.rows, lr.layer);
    close(lr.js_divergence_bits, jsdByHand(ca, cb), 1e-12);
    close(lr.js_distance, Math.sqrt(jsdByHand(ca, cb)), 1e-9);
    const sa = ca.reduce((a, b) => a + b, 0);
    const sb = cb.reduce((a, b) => a + b, 0);
    const deltas = ca.map((v, e) => ({ e, d: cb[e] / sb - v / sa })).filter((m) => m.d !== 0);
    deltas.sort((x, y) => Math.abs(y.d) - Math.abs(x.d) || x.e - y.e);
    assert.deepEqual(
      lr.moved.map((m) => m.expert),
      deltas.slice(0, 10).map((m) => m.e),
    );
  }
  close(r.distribution.overall.js_divergence_bits, jsdByHand(counts(A.rows, null), counts(B.rows, null)), 1e-12);

  const key = (x: Row) => `${x.req_id}|${x.token_idx}|${x.layer}`;
  const inB = new Map(B.rows.filter((x) => layers.includes(x.layer)).map((x) => [key(x), x]));
  const inA = new Set(A.rows.filter((x) => layers.includes(x.layer)).map(key));
  let rows = 0;
  let agree = 0;
  let overlap = 0;
  const firstDiv = new Map<string, [number, number] | null>();
  const firstTok = new Map<string, number | null>();
  for (const a of A.rows) {
    const b = inB.get(key(a));
    if (!b) continue;
    rows++;
    if (top1(a) === top1(b)) agree++;
    const common = a.topk_ids.filter((e) => b.topk_ids.includes(e)).length;
    overlap += common / a.topk_ids.length;
    if (!firstDiv.has(a.req_id)) {
      firstDiv.set(a.req_id, null);
      firstTok.set(a.req_id, null);
    }
    if (common < a.topk_ids.length) {
      const cur = firstDiv.get(a.req_id);
      if (!cur || a.token_idx < cur[0] || (a.token_idx === cur[0] && a.layer < cur[1]))
        firstDiv.set(a.req_id, [a.token_idx, a.layer]);
    }
    if (a.token_id !== undefined && b.token_id !== undefined && a.token_id !== b.token_id) {
      const cur = firstTok.get(a.req_id);
      if (cur === null || cur === undefined || a.token_idx < cur) firstTok.set(a.req_id, a.token_idx);
    }
  }
  if (rows === 0) return assert.equal(r.aligned, null);
  const al = r.aligned!;
  assert.equal(al.rows, rows);
  assert.equal(al.rows_only_a, inA.size - rows);
  assert.equal(al.rows_only_b, inB.size - rows);
  close(al.top1_agreement, agree / rows);
  close(al.topk_overlap, overlap / rows);
  assert.equal(al.requests_compared, firstDiv.size);
  for (const q of al.requests) {
    const d = firstDiv.get(q.req_id)!;
    assert.deepEqual(q.first_divergence, d ? { token_idx: d[0], layer: d[1] } : null, q.req_id);
    assert.equal(q.first_token_id_divergence, firstTok.get(q.req_id), q.req_id);
  }
}

/** A copy of a log with some rows' routing changed, some rows dropped (whole tokens) and token ids changed. */
function mutate(text: string, seed: number, E: number): string {
  const rnd = mulberry32(seed);
  const lines = text.trimEnd().split("\n");
  const cut = new Map<string, number>();
  return (
    [
      lines[0]!,
      ...lines.slice(1).flatMap((l) => {
        const r = JSON.parse(l) as Row;
        if (!cut.has(r.req_id)) cut.set(r.req_id, rnd() < 0.5 ? Infinity : 2 + Math.floor(rnd() * 6));
        if (r.token_idx >= cut.get(r.req_id)!) return [];
        if (rnd() < 0.3) r.topk_ids = pickIds(rnd, E, r.topk_ids.length, 1);
        if (rnd() < 0.2) r.token_id = (r.token_id ?? 0) + 1;
        return [JSON.stringify(r)];
      }),
    ].join("\n") + "\n"
  );
}

test("compare equals the plain computation on random logs, with one and with several request buckets", async () => {
  for (let seed = 1; seed <= 6; seed++) {
    const E = 5 + seed;
    const textA = randomLog({
      seed,
      requests: 4 + seed,
      layers: [0, 1, 2],
      experts: E,
      topK: 2,
      maxTokens: 10,
      tokenMajor: seed % 2 === 0,
    });
    const textB =
      seed === 3
        ? randomLog({ seed: 99, requests: 3, layers: [1, 2, 5], experts: E, topK: 2, maxTokens: 8 })
        : mutate(textA, seed, E);
    const a = writeLog(textA.trimEnd().split("\n"));
    const b = writeLog(textB.trimEnd().split("\n"));
    const one = await runCompare(a, b, {});
    checkAgainstLines(textA, textB, one);
    const many = await runCompare(a, b, { bucketBytes: 300 });
    assert.deepEqual(many, one, "the bucket count does not change the result");
  }
});

test("compare CLI: the H100 log against a perturbed copy of itself writes compare.json and compare.png", async () => {
  const b = path.join(tempDir(), "b.jsonl");
  await perturbRoutes(RECORDED, b, { seed: 3, keep: 0, flip: 0.5 });
  const out = tempDir();
  const r = await execa(process.execPath, [CLI, "compare", RECORDED, b, "--out", out]);
  assert.match(r.stdout, /24 layers compared/);
  assert.match(r.stdout, /top-1 agreement [\d.]+%/);
  const report = JSON.parse(readFileSync(path.join(out, "compare.json"), "utf8")) as CompareReport;
  checkAgainstLines(readFileSync(RECORDED, "utf8"), readFileSync(b, "utf8"), report);
  assert.ok(report.aligned!.requests_diverged > 0);
  assert.equal(readFileSync(path.join(out, "compare.png")).subarray(1, 4).toString(), "PNG");

  const self = await execa(process.execPath, [CLI, "compare", RECORDED, RECORDED, "--out", tempDir(), "--json"]);
  const s = JSON.parse(self.stdout) as CompareReport;
  assert.equal(s.distribution.overall.js_divergence_bits, 0);
  assert.equal(s.aligned!.top1_agreement, 1);
  assert.equal(s.aligned!.requests_diverged, 0);
});

test("compare refuses logs with no layer in common, and reports unaligned logs without row metrics", async () => {
  const a = writeLog(
    randomLog({ seed: 1, requests: 2, layers: [0], experts: 4, topK: 2, maxTokens: 4 })
      .trimEnd()
      .split("\n"),
  );
  const b = writeLog(
    randomLog({ seed: 2, requests: 2, layers: [1], experts: 4, topK: 2, maxTokens: 4 })
      .trimEnd()
      .split("\n"),
  );
  const r = await execa(process.execPath, [CLI, "compare", a, b, "--out", tempDir()], { reject: false });
  assert.equal(r.exitCode, 1);
  assert.match(r.stderr, /have no logged layer in common \(0 vs 1\)/);

  const other = randomLog({ seed: 3, requests: 2, layers: [0], experts: 4, topK: 2, maxTokens: 4 }).replace(
    /"req_id":"q/g,
    '"req_id":"z',
  );
  const c = path.join(tempDir(), "c.jsonl");
  writeFileSync(c, other);
  const rep = await runCompare(a, c, {});
  assert.equal(rep.aligned, null);
  assert.ok(rep.notes.some((n) => n.includes("no row of a has the same (req_id, token_idx, layer)")));
});
