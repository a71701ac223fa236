// Layer transitions and the information measures behind them, against plain computations:
// MI from the definition, EMI by enumerating every permutation of a tiny table, JSD by hand, and
// hist's layer_transitions on random logs (token-major and layer-major order) against counting
// each token's top-1 per layer directly.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { execa } from "execa";
import {
  mutualInformationBits,
  expectedMutualInformationBits,
  dependence,
  jsDivergenceBits,
} from "../src/analysis/info-theory.js";
import type { HistSummary } from "../src/analysis/summary.js";
import { analyseRoutesFile, analyseInParallel } from "../src/log-scan/analyse-routes.js";
import { CLI, tempDir, writeLog } from "./helpers.js";
import { parseLog, randomLog, top1, mulberry32 } from "./brute-force.js";

const close = (a: number | null, b: number, eps = 1e-9) =>
  assert.ok(a !== null && Math.abs(a - b) <= eps, `${a} != ${b}`);

test("mutual information and JS divergence by hand", () => {
  // Perfect dependence on 2x2 uniform: 1 bit; independence: 0.
  close(mutualInformationBits({ counts: [5, 0, 0, 5], rows: 2, cols: 2 }), 1);
  close(mutualInformationBits({ counts: [2, 2, 3, 3], rows: 2, cols: 2 }), 0);
  // p = [[.5, 0], [.25, .25]]: I = .5 log2(.5/(.5*.75)) + .25 log2(.25/(.5*.75)) + .25 log2(.25/(.5*.25))
  close(
    mutualInformationBits({ counts: [2, 0, 1, 1], rows: 2, cols: 2 }),
    0.5 * Math.log2(4 / 3) + 0.25 * Math.log2(2 / 3) + 0.25,
  );
  close(jsDivergenceBits([1, 2, 3], [2, 4, 6]), 0);
  close(jsDivergenceBits([1, 0], [0, 1]), 1);
  // p = [1, 0], q = [.5, .5]: m = [.75, .25]; H(m) - (0 + 1)/2
  close(jsDivergenceBits([1, 0], [1, 1]), -(0.75 * Math.log2(0.75) + 0.25 * Math.log2(0.25)) - 0.5);
  assert.equal(jsDivergenceBits([0, 0], [1, 1]), null);
});

/** EMI by brute force: MI averaged over every pairing of the column labels with the rows. */
function bruteEmi(counts: number[], rows: number, cols: number): number {
  const rowLabels: number[] = [];
  const colLabels: number[] = [];
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++)
      for (let c = 0; c < counts[i * cols + j]!; c++) {
        rowLabels.push(i);
        colLabels.push(j);
      }
  let sum = 0;
  let n = 0;
  const perm = (arr: number[], k: number): void => {
    if (k === arr.length) {
      const t = Array(rows * cols).fill(0);
      arr.forEach((c, idx) => t[rowLabels[idx]! * cols + c]++);
      sum += mutualInformationBits({ counts: t, rows, cols });
      n++;
      return;
    }
    for (let i = k; i < arr.length; i++) {
      [arr[k], arr[i]] = [arr[i]!, arr[k]!];
      perm(arr, k + 1);
      [arr[k], arr[i]] = [arr[i]!, arr[k]];
    }
  };
  perm(colLabels.slice(), 0);
  return sum / n;
}

test("expected MI equals the average over all permutations (tiny tables)", () => {
  const rnd = mulberry32(9);
  for (let trial = 0; trial < 40; trial++) {
    const rows = 1 + Math.floor(rnd() * 3);
    const cols = 1 + Math.floor(rnd() * 3);
    const counts = Array.from({ length: rows * cols }, () => Math.floor(rnd() * 3));
    const N = counts.reduce((a, b) => a + b, 0);
    if (N === 0 || N > 7) continue;
    close(expectedMutualInformationBits({ counts, rows, cols }), bruteEmi(counts, rows, cols), 1e-9);
  }
  // Large N: EMI of a 2x2 table with even margins is small (~ 1 / (2 N ln 2) for one degree of freedom).
  const emi = expectedMutualInformationBits({ counts: [2500, 2500, 2500, 2500], rows: 2, cols: 2 });
  assert.ok(emi > 0 && Math.abs(emi - 1 / (2 * 10000 * Math.LN2)) < 1e-5, String(emi));
  // Adjusted MI: 1 for a perfect diagonal, ~0 for independence.
  close(dependence({ counts: [50, 0, 0, 50], rows: 2, cols: 2 }).adjusted_mi, 1, 1e-6);
  assert.ok(Math.abs(dependence({ counts: [25, 25, 25, 25], rows: 2, cols: 2 }).adjusted_mi!) < 0.02);
});

/** Per logged layer l and the next logged layer n (sorted, gaps allowed): matrix[a][b] = tokens
 * with top-1 a in l and b in n. */
function bruteTransitions(text: string, E: number): Map<string, number[][]> {
  const { meta, rows } = parseLog(text);
  const sorted = [...(meta.layers_logged as number[])].sort((a, b) => a - b);
  const top = new Map<string, number>();
  for (const r of rows) top.set(`${r.req_id}|${r.token_idx}|${r.layer}`, top1(r));
  const out = new Map<string, number[][]>();
  for (let k = 0; k + 1 < sorted.length; k++) {
    const [l, n] = [sorted[k]!, sorted[k + 1]!];
    const m = Array.from({ length: E }, () => Array(E).fill(0));
    for (const r of rows) {
      if (r.layer !== l) continue;
      const b = top.get(`${r.req_id}|${r.token_idx}|${n}`);
      if (b !== undefined) m[top1(r)]![b]++;
    }
    out.set(`${l}->${n}`, m);
  }
  return out;
}

test("hist layer_transitions equal direct counting, in either row order, and the parallel scan agrees", async () => {
  for (const [seed, tokenMajor, layers, pairs] of [
    [1, false, [0, 1, 2, 3], "0->1 1->2 2->3"],
    [2, true, [0, 1, 2, 3], "0->1 1->2 2->3"],
    [3, false, [3, 1, 2, 7, 8], "1->2 2->3 3->7 7->8"], // unsorted, with a gap
    [4, true, [5], ""], // no pair at all
    [6, true, [0, 2, 3], "0->2 2->3"], // tiny-qwen2-moe's MoE layers (layer 1 dense)
    [7, false, [0, 2, 4, 6], "0->2 2->4 4->6"], // `run --layers 0,2,4,6`
  ] as const) {
    const E = 6;
    const text = randomLog({ seed, requests: 5, layers: [...layers], experts: E, topK: 2, maxTokens: 12, tokenMajor });
    const file = writeLog(text.trimEnd().split("\n"));
    const { summary } = await analyseRoutesFile(file, { threads: 1 });
    const want = bruteTransitions(text, E);
    assert.equal([...want.keys()].join(" "), pairs);
    if (want.size === 0) {
      assert.equal(summary.layer_transitions, null);
      continue;
    }
    const t = summary.layer_transitions!;
    assert.deepEqual(
      t.pairs.map((p) => `${p.from_layer}->${p.to_layer}`),
      [...want.keys()],
    );
    for (const p of t.pairs) {
      const m = want.get(`${p.from_layer}->${p.to_layer}`)!;
      assert.deepEqual(p.matrix, m);
      close(p.mutual_information_bits, mutualInformationBits({ counts: m.flat(), rows: E, cols: E }));
      const N = m.flat().reduce((a, b) => a + b, 0);
      assert.equal(p.tokens, N);
      const rowSum = m.map((r) => r.reduce((a, b) => a + b, 0));
      const colSum = m[0]!.map((_, b) => m.reduce((s, r) => s + r[b]!, 0));
      const cells = m.flatMap((r, a) => r.map((n, b) => ({ from: a, to: b, tokens: n }))).filter((c) => c.tokens > 0);
      cells.sort((x, y) => y.tokens - x.tokens || x.from - y.from || x.to - y.to);
      assert.deepEqual(
        p.top.map((t) => [t.from, t.to, t.tokens]),
        cells.slice(0, 10).map((c) => [c.from, c.to, c.tokens]),
      );
      p.top.forEach(
        (t) => (close(t.share, t.tokens / N), close(t.lift, (t.tokens * N) / (rowSum[t.from]! * colSum[t.to]!))),
      );
    }
    const par = await analyseInParallel(file, { threads: 3, parallelMinBytes: 0 });
    assert.deepEqual(par, summary, "the parallel scan merges pending tokens across parts exactly");
  }
});

test("hist --layers keeps only pairs of a logged layer and the next logged one, both analysed; the picture is written", async () => {
  const text = randomLog({ seed: 5, requests: 3, layers: [0, 1, 2, 3], experts: 5, topK: 2, maxTokens: 8 });
  const file = writeLog(text.trimEnd().split("\n"));
  const out = tempDir();
  const r = await execa(process.execPath, [CLI, "hist", file, "--layers", "0,1,3", "--out", out, "--json"]);
  const s = JSON.parse(r.stdout) as HistSummary;
  assert.deepEqual(
    s.layer_transitions!.pairs.map((p) => [p.from_layer, p.to_layer]),
    [[0, 1]],
  );
  assert.deepEqual(s.layer_transitions!.pairs[0]!.matrix, bruteTransitions(text, 5).get("0->1"));
  const { readFileSync } = await import("node:fs");
  assert.equal(readFileSync(path.join(out, "layer_transitions.png")).subarray(1, 4).toString(), "PNG");
});
