// Placement policies and their scores against plain re-implementations of the definitions, and
// the replicated plan against a numpy transcription of DeepSeek's eplb.py (global policy).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execa } from "execa";
import {
  balancedPlacement,
  coactPlacement,
  contiguousPlacement,
  gpuLoads,
  localAssignments,
  maxOverMean,
  replicatedPlacement,
  type Placement,
} from "../src/analysis/placement.js";
import { redundantSlots, sglangPhysicalToLogical } from "../src/analysis/placement-report.js";
import { mulberry32, pickIds } from "./brute-force.js";

const close = (a: number | null, b: number, eps = 1e-9, what = "") =>
  assert.ok(a !== null && Math.abs(a - b) <= eps * Math.max(1, Math.abs(b)), `${what}: ${a} != ${b}`);

test("contiguous is vLLM 0.15.1's linear expert map", () => {
  // determine_expert_map: base = E // G, the first E % G ranks get one more.
  assert.deepEqual(
    contiguousPlacement(60, 8).experts.map((l) => l.length),
    [8, 8, 8, 8, 7, 7, 7, 7],
  );
  assert.deepEqual(contiguousPlacement(10, 4).experts, [
    [0, 1, 2],
    [3, 4, 5],
    [6, 7],
    [8, 9],
  ]);
  // When G divides E it is floor(e * G / E).
  const p = contiguousPlacement(64, 8);
  p.experts.forEach((list, g) => list.forEach((e) => assert.equal(Math.floor((e * 8) / 64), g)));
});

/** Greedy packing written out plainly: heaviest first (ties lowest expert id), least-loaded open GPU (ties lowest). */
function plainPack(items: { e: number; w: number }[], G: number, slots: number): number[][] {
  const sorted = items.map((it, i) => ({ ...it, i })).sort((a, b) => b.w - a.w || a.e - b.e || a.i - b.i);
  const gpus = Array.from({ length: G }, () => ({ load: 0, experts: [] as number[] }));
  for (const it of sorted) {
    const open = gpus.map((g, idx) => ({ g, idx })).filter(({ g }) => g.experts.length < slots);
    open.sort((a, b) => a.g.load - b.g.load || a.idx - b.idx);
    open[0]!.g.experts.push(it.e);
    open[0]!.g.load += it.w;
  }
  return gpus.map((g) => g.experts);
}

test("balanced and replicated follow the greedy definitions (random loads, ties included)", () => {
  const rnd = mulberry32(3);
  for (let trial = 0; trial < 200; trial++) {
    const E = 2 + Math.floor(rnd() * 14);
    const G = 1 + Math.floor(rnd() * Math.min(E, 6));
    const counts = Float64Array.from({ length: E }, () => Math.floor(rnd() * 6)); // small values: many ties
    assert.deepEqual(
      balancedPlacement(counts, G).experts,
      plainPack(
        [...counts].map((w, e) => ({ e, w })),
        G,
        Math.ceil(E / G),
      ),
    );
    const R = Math.floor(rnd() * 6);
    const rep = replicatedPlacement(counts, G, R);
    const r = Array(E).fill(1);
    for (let i = 0; i < R; i++) {
      let best = 0;
      for (let e = 0; e < E; e++) if (counts[e]! / r[e] > counts[best]! / r[best]) best = e;
      r[best]++;
    }
    assert.deepEqual([...rep.replicas], r);
    const items = r.flatMap((n, e) => Array.from({ length: n }, () => ({ e, w: counts[e]! / n })));
    assert.deepEqual(rep.experts, plainPack(items, G, Math.ceil((E + R) / G)));
    // Loads conserve the total, whatever the policy.
    const total = counts.reduce((a, b) => a + b, 0);
    for (const p of [rep, balancedPlacement(counts, G), contiguousPlacement(E, G)])
      close(
        gpuLoads(p, counts).reduce((a, b) => a + b, 0),
        total,
        1e-9,
        "load total",
      );
  }
});

test("default redundant slots: the fewest (>= 1) that fill every GPU equally", () => {
  assert.equal(redundantSlots(60, 8, undefined), 4); // 64 = 8 x 8
  assert.equal(redundantSlots(60, 4, undefined), 4); // 60 divides: one more slot each
  assert.equal(redundantSlots(60, 7, undefined), 3); // 63
  assert.equal(redundantSlots(60, 8, 0), 0);
});

test("the replicated plan's SGLang map equals DeepSeek eplb.py's (numpy transcription, global policy)", async () => {
  const rnd = mulberry32(11);
  const layers = Array.from({ length: 3 }, () =>
    Array.from({ length: 16 }, () => 1 + Math.floor(rnd() * 100000) + rnd()),
  );
  const G = 4;
  const R = 4;
  const ours = sglangPhysicalToLogical(
    layers.map((c, layer) => ({ layer, plan: replicatedPlacement(Float64Array.from(c), G, R) })),
    16,
    R,
    G,
  )!.physical_to_logical_map;
  const py = `
import json, sys
import numpy as np
weight = np.array(json.loads(sys.argv[1]), dtype=np.float64)
num_phy, num_gpus = int(sys.argv[2]), int(sys.argv[3])
def replicate_experts(w, num_phy):
    n, num_log = w.shape
    phy2log = np.tile(np.arange(num_phy), (n, 1)); logcnt = np.ones((n, num_log), dtype=np.int64)
    for i in range(num_log, num_phy):
        idx = (w / logcnt).argmax(axis=-1)
        phy2log[:, i] = idx
        logcnt[np.arange(n), idx] += 1
    return phy2log, logcnt
def balanced_packing(w, num_packs):
    n, groups = w.shape; per = groups // num_packs
    pack_index = np.full(w.shape, -1); rank = np.full(w.shape, -1)
    for i in range(n):
        pw = [0.0] * num_packs; items = [0] * num_packs
        for g in np.argsort(-w[i], kind="stable"):
            p = min((j for j in range(num_packs) if items[j] < per), key=pw.__getitem__)
            pack_index[i, g] = p; rank[i, g] = items[p]; pw[p] += w[i, g]; items[p] += 1
    return pack_index, rank
phy2log, logcnt = replicate_experts(weight, num_phy)
tokens_per_phy = np.take_along_axis(weight / logcnt, phy2log, axis=-1)
pack_index, rank = balanced_packing(tokens_per_phy, num_gpus)
phy2pphy = pack_index * (num_phy // num_gpus) + rank
pphy2phy = np.argsort(phy2pphy, axis=-1)
print(json.dumps(np.take_along_axis(phy2log, pphy2phy, axis=-1).tolist()))
`;
  const r = await execa("python3", ["-c", py, JSON.stringify(layers), String(16 + R), String(G)]);
  assert.deepEqual(ours, JSON.parse(r.stdout));
});

/** Expected local assignments of one row, enumerating every replica choice (each replica equally likely). */
function plainRowLocal(p: Placement, ids: number[], top: number): number {
  const where = (e: number) => p.experts.flatMap((list, g) => list.filter((x) => x === e).map(() => g));
  const homes = where(top);
  let local = 0;
  for (const g of homes) {
    let here = 1;
    for (const b of ids) {
      if (b === top) continue;
      const bs = where(b);
      here += bs.filter((h) => h === g).length / bs.length;
    }
    local += here / homes.length;
  }
  return local;
}

test("local assignments equal the per-row expectation; coact never keeps less than balanced, respects the cap", () => {
  const rnd = mulberry32(5);
  for (let trial = 0; trial < 60; trial++) {
    const E = 4 + Math.floor(rnd() * 10);
    const k = 1 + Math.floor(rnd() * Math.min(4, E - 1));
    const G = 2 + Math.floor(rnd() * Math.min(3, E - 2));
    const rows = Array.from({ length: 1 + Math.floor(rnd() * 80) }, () => pickIds(rnd, E, k, 1.5));
    const tops = rows.map((ids) => ids[Math.floor(rnd() * k)]!);
    const counts = new Float64Array(E);
    const T = new Float64Array(E * E);
    rows.forEach((ids, i) => ids.forEach((b) => (counts[b]!++, b !== tops[i] && T[tops[i]! * E + b]!++)));
    const W = new Float64Array(E * E);
    for (let a = 0; a < E; a++) for (let b = 0; b < E; b++) if (a !== b) W[a * E + b] = T[a * E + b]! + T[b * E + a]!;
    const slack = rnd() * 0.3;
    const plans = [
      contiguousPlacement(E, G),
      balancedPlacement(counts, G),
      replicatedPlacement(counts, G, Math.floor(rnd() * 4)),
      coactPlacement(counts, W, G, slack),
    ];
    for (const p of plans) {
      const want = rows.reduce((s, ids, i) => s + plainRowLocal(p, ids, tops[i]!), 0);
      close(localAssignments(p, T, rows.length), want, 1e-9, "local");
    }
    const [, bal, , co] = plans as [Placement, Placement, Placement, Placement];
    assert.ok(
      localAssignments(co, T, rows.length) >= localAssignments(bal, T, rows.length),
      "coact starts from balanced and only improves",
    );
    assert.deepEqual(
      co.experts.map((l) => l.length).sort(),
      bal.experts.map((l) => l.length).sort(),
      "same slots per GPU",
    );
    assert.deepEqual(
      co.experts.flat().sort((a, b) => a - b),
      Array.from({ length: E }, (_, e) => e),
    );
    const mean = counts.reduce((a, b) => a + b, 0) / G;
    const balLoads = gpuLoads(bal, counts);
    const coLoads = [...gpuLoads(co, counts)].sort((a, b) => a - b);
    assert.ok(Math.max(...coLoads) <= Math.max(Math.max(...balLoads), (1 + slack) * mean) + 1e-9, "cap");
  }
});

test("coact finds planted co-activation groups that contiguous ids split", () => {
  // 16 experts in 4 groups {0,4,8,12}, {1,5,9,13}, ...: every row routes to one whole group.
  const E = 16;
  const rows: number[][] = [];
  for (let i = 0; i < 400; i++) rows.push([0, 4, 8, 12].map((x) => x + (i % 4)));
  const counts = new Float64Array(E);
  const T = new Float64Array(E * E);
  for (const ids of rows)
    for (const b of ids) {
      counts[b]!++;
      if (b !== ids[0]) T[ids[0]! * E + b]!++;
    }
  const W = new Float64Array(E * E);
  for (let a = 0; a < E; a++) for (let b = 0; b < E; b++) if (a !== b) W[a * E + b] = T[a * E + b]! + T[b * E + a]!;
  const share = (p: Placement) => localAssignments(p, T, rows.length) / (rows.length * 4);
  close(share(contiguousPlacement(E, 4)), 0.25); // each group spread over all four GPUs
  close(share(coactPlacement(counts, W, 4, 0.05)), 1);
  close(maxOverMean(gpuLoads(coactPlacement(counts, W, 4, 0.05), counts)), 1);
});
