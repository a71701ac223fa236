// cache and place end to end (the built CLI) on random logs, the recorded H100 log and a
// synthetic log, every number checked against a plain computation from the log's lines.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import type { CacheReport } from "../src/analysis/cache-report.js";
import type { PlacementReport } from "../src/analysis/placement-report.js";
import { writeSynthRoutes, DEFAULT_SYNTH } from "../scripts/synth-routes.js";
import { runCache } from "../src/commands/cache/index.js";
import { runPlace } from "../src/commands/place/index.js";
import { runExport } from "../src/commands/export/index.js";
import { runCompare } from "../src/commands/compare/index.js";
import { UserError } from "../src/errors.js";
import { CLI, ROOT, tempDir, writeLog } from "./helpers.js";
import {
  bruteCacheHits,
  mulberry32,
  parseLog,
  randomLog,
  requestSequence,
  stepSequence,
  top1,
  type Row,
} from "./brute-force.js";

const cli = (args: string[]) => execa(process.execPath, [CLI, ...args], { reject: false });
const close = (a: number | null | undefined, b: number | null, eps = 1e-9, what = "") =>
  b === null ? assert.equal(a, null, what) : assert.ok(a != null && Math.abs(a - b) <= eps, `${what}: ${a} != ${b}`);
const RECORDED = path.join(ROOT, "fixtures/recorded/hf-smoke-h100/moe_routes.jsonl");

function checkCache(text: string, r: CacheReport, onlyLayers?: number[], capacities?: number[]): void {
  const { rows } = parseLog(text);
  const E = r.num_experts;
  let totalAcc = 0;
  const totalHits = new Map<string, number[]>();
  for (const [policy, v] of Object.entries(r.policies)) {
    for (const l of v.layers) {
      const seq = r.order === "request" ? requestSequence(rows, l.layer) : stepSequence(rows, l.layer);
      assert.equal(l.accesses, seq.length);
      if (policy === "lru") totalAcc += seq.length;
      const hits = r.capacities.map((C) =>
        (onlyLayers && !onlyLayers.includes(l.layer)) || (capacities && !capacities.includes(C))
          ? null
          : bruteCacheHits(seq, E, C, policy),
      );
      hits.forEach(
        (h, i) =>
          h !== null && close(l.hit_rate[i], h / seq.length, 1e-12, `${policy} layer ${l.layer} C=${r.capacities[i]}`),
      );
      if (!onlyLayers) {
        const t = totalHits.get(policy) ?? r.capacities.map(() => 0);
        hits.forEach((h, i) => (t[i]! += h ?? 0));
        totalHits.set(policy, t);
      }
    }
  }
  assert.equal(r.accesses, totalAcc);
  for (const [policy, t] of totalHits) {
    t.forEach((h, i) => close(r.policies[policy as "lru"]!.hit_rate[i], h / totalAcc, 1e-12, `${policy} overall`));
    for (const target of r.targets) {
      const i = r.policies[policy as "lru"]!.hit_rate.findIndex((x) => x !== null && x >= target - 1e-12);
      assert.equal(r.capacity_for[policy as "lru"]![String(target)], i === -1 ? null : r.capacities[i]);
    }
  }
}

test("cache: request and step order on random logs equal per-capacity simulation of the lines", async () => {
  for (const [seed, order, tokenMajor] of [
    [1, "request", false],
    [2, "request", true],
    [3, "step", false],
    [4, "step", true],
  ] as const) {
    const text = randomLog({ seed, requests: 4, layers: [0, 2, 1], experts: 7, topK: 2, maxTokens: 9, tokenMajor });
    const log = writeLog(text.trimEnd().split("\n"));
    const report = await runCache(log, { order });
    assert.deepEqual(report.capacities, [1, 2, 3, 4, 5, 6, 7]);
    checkCache(text, report);
    if (seed !== 1) continue;
    // The CLI writes the same object to cache.json and stdout, and the picture.
    const out = tempDir();
    const r = await cli(["cache", log, "--order", order, "--out", out, "--json"]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), report);
    assert.deepEqual(JSON.parse(readFileSync(path.join(out, "cache.json"), "utf8")), report);
    assert.equal(readFileSync(path.join(out, "expert_cache.png")).subarray(1, 4).toString(), "PNG");
  }
});

test("cache on the recorded H100 log and on a synthetic log (request and step order)", async () => {
  const text = readFileSync(RECORDED, "utf8");
  for (const order of ["request", "step"]) {
    const report = await runCache(RECORDED, { order, capacities: "1,4,16,60" });
    assert.equal(report.num_experts, 60);
    checkCache(text, report, [0, 11, 23]);
    // Every cache starts empty: at C = E only first accesses miss, whatever the policy.
    const last = Object.values(report.policies).map((p) => p.hit_rate[3]);
    assert.ok(last.every((x) => x === last[0]));
  }
  const synth = path.join(tempDir(), "moe_routes.jsonl");
  writeSynthRoutes(synth, {
    ...DEFAULT_SYNTH,
    requests: 3,
    layers: 4,
    experts: 16,
    promptTokens: [5, 20],
    decodeTokens: [5, 30],
  });
  checkCache(readFileSync(synth, "utf8"), await runCache(synth, {}));
});

/** GPU loads, max/mean, per-step max/mean and local share of one placement, straight from the rows. */
function scorePlacement(rows: Row[], layer: number, experts: number[][], k: number) {
  const mine = rows.filter((r) => r.layer === layer);
  const G = experts.length;
  const homes = (e: number) => experts.flatMap((list, g) => list.filter((x) => x === e).map(() => g));
  const loadsOf = (rs: Row[]) => {
    const loads = Array(G).fill(0);
    for (const r of rs) for (const e of r.topk_ids) for (const g of homes(e)) loads[g] += 1 / homes(e).length;
    return loads;
  };
  const mom = (l: number[]) => {
    const s = l.reduce((a, b) => a + b, 0);
    return s > 0 ? Math.max(...l) / (s / l.length) : null;
  };
  const loads = loadsOf(mine);
  const steps = [...new Set(mine.map((r) => r.step!))];
  const stepRatios = steps.map((s) => mom(loadsOf(mine.filter((r) => r.step === s)))!);
  let local = 0;
  for (const r of mine) {
    const a = top1(r);
    for (const g of homes(a)) {
      let here = 1;
      for (const b of r.topk_ids) if (b !== a) here += homes(b).filter((h) => h === g).length / homes(b).length;
      local += here / homes(a).length;
    }
  }
  return {
    loads,
    mom: mom(loads),
    step: stepRatios.reduce((a, b) => a + b, 0) / stepRatios.length,
    share: local / (mine.length * k),
  };
}

function checkPlacement(text: string, r: PlacementReport, onlyLayers?: number[]): void {
  const { rows } = parseLog(text);
  for (const [policy, entries] of Object.entries(r.policies)) {
    for (const e of entries) {
      for (const l of e.layers) {
        if (onlyLayers && !onlyLayers.includes(l.layer)) continue;
        const what = `${policy} G=${e.gpus} layer ${l.layer}`;
        assert.equal(l.experts.length, e.gpus);
        assert.ok(
          l.experts.every((list) => list.length <= e.slots_per_gpu),
          what,
        );
        const s = scorePlacement(rows, l.layer, l.experts, r.top_k);
        s.loads.forEach((x, g) => close(l.gpu_loads[g], x, 1e-9, `${what} load ${g}`));
        close(l.max_over_mean, s.mom, 1e-9, what);
        close(l.step_max_over_mean, s.step, 1e-9, `${what} steps`);
        close(l.top1_gpu_share, s.share, 1e-9, `${what} share`);
      }
      if (!onlyLayers)
        close(e.max_over_mean, e.layers.reduce((a, l) => a + l.max_over_mean!, 0) / e.layers.length, 1e-12);
    }
  }
}

test("place: a log whose steps go back within a layer (rows shuffled) is grouped by step all the same", async () => {
  const text = randomLog({ seed: 37, requests: 6, layers: [0, 1], experts: 10, topK: 3, maxTokens: 12 });
  const [meta, ...routes] = text.trimEnd().split("\n");
  const rnd = mulberry32(4);
  for (let i = routes.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [routes[i], routes[j]] = [routes[j]!, routes[i]!];
  }
  const steps = routes.map((l) => (JSON.parse(l) as Row).step!);
  assert.ok(
    steps.some((s, i) => i > 0 && s < steps[i - 1]!),
    "the shuffled log has steps that go back",
  );
  const shuffled = [meta!, ...routes].join("\n") + "\n";
  const { report } = await runPlace(writeLog(shuffled.trimEnd().split("\n")), { gpus: "2,3" });
  checkPlacement(shuffled, report);
});

test("place: loads, max/mean (whole log and per step) and top-1 GPU share equal the rows; SGLang map", async () => {
  const text = randomLog({ seed: 31, requests: 5, layers: [0, 1], experts: 10, topK: 3, maxTokens: 12 });
  const log = writeLog(text.trimEnd().split("\n"));
  const out = tempDir();
  const r = await cli(["place", log, "--gpus", "2,3,5", "--out", out, "--json"]);
  assert.equal(r.exitCode, 0, r.stderr);
  const report = JSON.parse(r.stdout) as PlacementReport;
  checkPlacement(text, report);
  assert.deepEqual(
    report.policies.replicated.map((e) => e.redundant),
    [2, 2, 5],
  ); // 12/2, 12/3, 15/5
  for (const G of [2, 3, 5]) {
    const map = JSON.parse(readFileSync(path.join(out, `sglang_expert_location_g${G}.json`), "utf8"));
    assert.deepEqual(
      Object.keys(map),
      ["physical_to_logical_map"],
      "SGLang passes the keys as arguments: nothing else may be there",
    );
    const entry = report.policies.replicated.find((e) => e.gpus === G)!;
    assert.deepEqual(
      map.physical_to_logical_map,
      entry.layers.map((l) => l.experts.flat()),
    );
  }
  assert.deepEqual(readdirSync(out).sort(), [
    "placement.json",
    "placement.png",
    "sglang_expert_location_g2.json",
    "sglang_expert_location_g3.json",
    "sglang_expert_location_g5.json",
  ]);

  // A fixed R that does not divide: no SGLang file for that G, and the report says why.
  const { report: rep2, sglang } = await runPlace(log, { gpus: "4", redundant: "1" });
  assert.deepEqual(sglang, []);
  assert.deepEqual(rep2.sglang_init_expert_location, [
    { gpus: 4, file: null, reason: "SGLang needs E + R = 11 physical experts to divide evenly over 4 GPUs" },
  ]);
  checkPlacement(text, rep2);
});

test("place on the recorded H100 log and a synthetic log", async () => {
  const { report } = await runPlace(RECORDED, { gpus: "2,4,8" });
  checkPlacement(readFileSync(RECORDED, "utf8"), report, [0, 23]);
  for (const e of report.policies.coact) {
    const bal = report.policies.balanced.find((b) => b.gpus === e.gpus)!;
    assert.ok(e.top1_gpu_share! >= bal.top1_gpu_share! - 1e-12, "coact keeps at least what balanced keeps");
  }
  const synth = path.join(tempDir(), "moe_routes.jsonl");
  writeSynthRoutes(synth, {
    ...DEFAULT_SYNTH,
    requests: 3,
    layers: 3,
    experts: 12,
    promptTokens: [5, 20],
    decodeTokens: [5, 30],
  });
  checkPlacement(readFileSync(synth, "utf8"), (await runPlace(synth, { gpus: "2,4" })).report);
});

test("what-if commands refuse invalid logs like validate, write nothing, and --lenient skips", async () => {
  const lines = randomLog({ seed: 41, requests: 2, layers: [0, 1], experts: 5, topK: 2, maxTokens: 4 })
    .trimEnd()
    .split("\n");
  lines[3] = "{oops";
  const log = writeLog(lines);
  const message = `${log}:4: not valid JSON`;
  for (const args of [["cache"], ["export", "--format", "r3"]]) {
    const out = tempDir();
    const r = await cli([...args.slice(0, 1), log, ...args.slice(1), "--out", out]);
    assert.equal(r.exitCode, 1, args.join(" "));
    assert.equal(r.stderr, `moe-prof: ${message}`);
    assert.deepEqual(readdirSync(out), [], `${args[0]}: nothing written for an invalid log`);
  }
  const out = tempDir();
  const invalid = (e: unknown) => e instanceof UserError && e.exitCode === 1 && e.message === message;
  await assert.rejects(runPlace(log, {}), invalid);
  await assert.rejects(runExport(log, { format: "eplb", out }), invalid);
  await assert.rejects(runCompare(log, log, {}), invalid);
  assert.deepEqual(readdirSync(out), []);
  const l = await cli(["cache", log, "--lenient", "--out", tempDir(), "--json"]);
  assert.equal(l.exitCode, 0, l.stderr);
  assert.match(l.stderr, /skipped .*:4: not valid JSON/);
  assert.ok((JSON.parse(l.stdout) as CacheReport).notes.some((n) => n.startsWith("--lenient:")));
});

test("what-if usage errors: exit 2 with one line; --order step needs step", async () => {
  const text = randomLog({ seed: 42, requests: 2, layers: [0], experts: 5, topK: 2, maxTokens: 4 });
  const log = writeLog(text.trimEnd().split("\n"));
  const usage = (re: RegExp) => (e: unknown) => e instanceof UserError && e.exitCode === 2 && re.test(e.message);
  await assert.rejects(runCache(log, { capacities: "9" }), usage(/--capacities: 9 exceeds the 5 experts/));
  await assert.rejects(runCache(log, { order: "lifo" }), usage(/--order: unknown "lifo"/));
  await assert.rejects(runCache(log, { policies: "mru" }), usage(/--policies: unknown "mru"/));
  await assert.rejects(runCache(log, { targets: "1.5" }), usage(/--targets: cannot read "1.5"/));
  await assert.rejects(runPlace(log, { gpus: "8" }), usage(/--gpus: 8 exceeds the 5 experts/));
  await assert.rejects(runPlace(log, { slack: "-1" }), usage(/--slack: cannot read "-1"/));
  for (const [args, msg] of [
    [["cache", log, "--capacities", "0"], /^moe-prof: --capacities: 0 must be an integer >= 1$/],
    [["export", log], /required option '--format <name>' not specified/],
  ] as const) {
    const r = await cli([...args, "--out", tempDir()]);
    assert.equal(r.exitCode, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, msg);
  }
  const noStep = writeLog(
    randomLog({ seed: 43, requests: 2, layers: [0], experts: 5, topK: 2, maxTokens: 4, withStep: false })
      .trimEnd()
      .split("\n"),
  );
  await assert.rejects(
    runCache(noStep, { order: "step" }),
    (e: unknown) =>
      e instanceof UserError &&
      e.exitCode === 1 &&
      /^.*: step: missing on the row req_id "q\d", token_idx \d+, layer 0 \(--order step groups rows by engine step; use --order request for this log\)$/.test(
        e.message,
      ),
  );
  const { report } = await runPlace(noStep, { gpus: "2" });
  assert.equal(report.policies.balanced[0]!.step_max_over_mean, null);
  assert.ok(report.notes.some((n) => n.includes("rows carry no step")));
  for (const cmd of ["cache", "place", "export", "compare"]) {
    const h = await cli([cmd, "--help"]);
    assert.equal(h.exitCode, 0);
    assert.match(h.stdout, /Exit codes: 0 ok, 1 invalid log/);
  }
});
