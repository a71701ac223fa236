// End to end: the built CLI on fixture logs. The expected numbers for fixtures/routes/seed-schema.jsonl
// are worked out by hand from its 10 rows (see the comments).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { CLI, FIXTURES, goodLines, readJson, tempDir, writeLog } from "./helpers.js";
import type { HistSummary } from "../src/analysis/summary.js";

const cli = (args: string[]) => execa(process.execPath, [CLI, ...args], { reject: false, stripFinalNewline: false });
const close = (a: number | null | undefined, b: number, eps = 1e-9) =>
  assert.ok(a != null && Math.abs(a - b) < eps, `${a} != ${b}`);

/** Width and height from a PNG's IHDR, after checking the signature. */
function pngSize(file: string): { width: number; height: number } {
  const b = readFileSync(file);
  assert.deepEqual([...b.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${file} is not a PNG`);
  assert.equal(b.toString("latin1", 12, 16), "IHDR");
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

// Layer 0 rows: a0 {0,1} a1 {0,2} a2 {0,1} b0 {2,3} b1 {3,2} -> counts [3,2,3,2]
// Layer 3 rows: a0 {1,0} a1 {1,3} a2 {3,1} b0 {3,0} b1 {3,1} -> counts [2,4,0,4]
// Overall [5,6,3,6], sum 20, p = [.25,.3,.15,.3].
const H = (ps: number[]) => -ps.filter((p) => p > 0).reduce((s, p) => s + p * Math.log2(p), 0);

test("hist --json on the seed-schema fixture reproduces hand-computed counts, entropy and top experts", async () => {
  const out = tempDir();
  const r = await cli(["hist", path.join(FIXTURES, "seed-schema.jsonl"), "--out", out, "--json"]);
  assert.equal(r.exitCode, 0, r.stderr);
  const s = JSON.parse(r.stdout) as HistSummary;
  assert.deepEqual(readJson(path.join(out, "summary.json")), s, "stdout and summary.json hold the same object");

  assert.equal(s.rows, 10);
  assert.equal(s.requests, 2);
  assert.equal(s.top_k, 2);
  assert.equal(s.num_experts, 4);
  assert.equal(s.num_experts_source, "max_id_plus_1");
  assert.ok(s.notes.some((n) => n.includes("num_experts is not in the meta line")));
  assert.deepEqual(s.overall.counts, [5, 6, 3, 6]);
  close(s.overall.entropy_bits, H([0.25, 0.3, 0.15, 0.3]));
  close(s.overall.normalized_entropy, H([0.25, 0.3, 0.15, 0.3]) / 2);
  assert.deepEqual(
    s.overall.top.map((t) => [t.expert, t.count]),
    [
      [1, 6],
      [3, 6],
      [0, 5],
      [2, 3],
    ],
  );
  close(s.overall.top[0]!.share, 0.3);
  close(s.overall.max_over_mean, 1.2);
  close(s.overall.cv, Math.sqrt(1.5) / 5);
  close(s.overall.gini, 0.125);
  assert.deepEqual(s.overall.dead_experts, []);

  assert.deepEqual(
    s.layers.map((l) => [l.layer, l.rows]),
    [
      [0, 5],
      [3, 5],
    ],
  );
  assert.deepEqual(s.layers[0]!.counts, [3, 2, 3, 2]);
  assert.deepEqual(s.layers[1]!.counts, [2, 4, 0, 4]);
  close(s.layers[0]!.entropy_bits, H([0.3, 0.2, 0.3, 0.2]));
  close(s.layers[1]!.entropy_bits, H([0.2, 0.4, 0, 0.4]));
  assert.deepEqual(s.layers[1]!.dead_experts, [2]);
  close(s.layers[1]!.utilization, 0.75);

  // Pairs: layer 0 (0,1)x2 (0,2) (2,3)x2; layer 3 (0,1) (1,3)x3 (0,3) -> overall (0,1)=3 (1,3)=3 (2,3)=2 ...
  assert.deepEqual(
    s.overall.top_pairs!.map((p) => [p.experts, p.rows]),
    [
      [[0, 1], 3],
      [[1, 3], 3],
      [[2, 3], 2],
      [[0, 2], 1],
      [[0, 3], 1],
    ],
  );
  close(s.overall.top_pairs![0]!.share, 0.3);
  close(s.overall.top_pairs![0]!.lift, 0.3 / (0.5 * 0.6));

  // Top-1 (highest weight; ties -> first): layer 0 a: 0,0,0 b: 2,3 -> 3 pairs, 2 repeats;
  // layer 3 a: 1,1,1 (a2 weights [0.3,0.7] -> id 1) b: 3,3 -> 3 pairs, 3 repeats.
  assert.deepEqual([s.layers[0]!.top1_repetition.pairs, s.layers[0]!.top1_repetition.repeats], [3, 2]);
  assert.deepEqual([s.layers[1]!.top1_repetition.pairs, s.layers[1]!.top1_repetition.repeats], [3, 3]);
  close(s.overall.top1_repetition.rate, 5 / 6);
  close(s.overall.top1_repetition.baseline, 0.25);

  assert.equal(s.phases, null);
  assert.deepEqual(
    s.per_request.map((q) => [q.req_id, q.rows_per_layer, q.tokens, q.min_token_idx, q.max_token_idx]),
    [
      ["a", [3, 3], 3, 0, 2],
      ["b", [2, 2], 2, 0, 1],
    ],
  );

  for (const [name, minW, minH] of [
    ["expert_hist.png", 1200, 500],
    ["expert_heatmap.png", 800, 300],
  ] as const) {
    const { width, height } = pngSize(path.join(out, name));
    assert.ok(width >= minW && height >= minH, `${name} is ${width}x${height}`);
  }
  assert.deepEqual(
    readdirSync(out).filter((f) => f.endsWith(".tmp")),
    [],
    "no temp files left behind",
  );
});

test("hist: declared num_experts, phases, --layers", async () => {
  const out = tempDir();
  const r = await cli(["hist", path.join(FIXTURES, "full-schema.jsonl"), "--out", out, "--json", "--layers", "3"]);
  assert.equal(r.exitCode, 0, r.stderr);
  const s = JSON.parse(r.stdout) as HistSummary;
  assert.equal(s.num_experts, 6);
  assert.equal(s.num_experts_source, "meta");
  assert.deepEqual(s.layers_analysed, [3]);
  assert.equal(s.rows, 10); // whole file
  assert.equal(s.overall.rows, 5); // layer 3 only
  assert.deepEqual(s.overall.counts, [2, 4, 0, 4, 0, 0]);
  assert.deepEqual(s.overall.dead_experts, [2, 4, 5]);
  close(s.overall.utilization, 0.5);
  // Layer 3: token 0 rows are prefill (a0 {1,0}, b0 {3,0}), the rest decode.
  assert.deepEqual(s.phases, {
    prefill: { rows: 2, counts: [2, 1, 0, 1, 0, 0], entropy_bits: 1.5 },
    decode: { rows: 3, counts: [0, 3, 0, 3, 0, 0], entropy_bits: 1 },
    rows_without_phase: 0,
  });
  assert.deepEqual(
    s.per_request.map((q) => [q.prefill_rows, q.decode_rows]),
    [
      [2, 4],
      [2, 2],
    ],
  );
});

test("hist prints a human summary by default and writes beside the log", async () => {
  const log = writeLog(goodLines());
  const r = await cli(["hist", log]);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /^moe_routes\.jsonl: 10 rows, 2 requests, 2 layers logged, top-2 of 4 experts/);
  assert.match(r.stdout, /entropy [\d.]+ of max 2\.00 bits/);
  assert.match(r.stdout, /top-1 repetition between consecutive tokens: [\d.]+% \(random: 25\.0%\)/);
  for (const f of ["expert_hist.png", "expert_heatmap.png", "summary.json"])
    assert.ok(existsSync(path.join(path.dirname(log), f)), f);
});

test("hist rejects an invalid log like validate (exit 1, one line), --lenient skips and counts", async () => {
  const lines = goodLines();
  lines[2] = "{oops";
  const log = writeLog(lines);
  const out = tempDir();
  const r = await cli(["hist", log, "--out", out]);
  assert.equal(r.exitCode, 1);
  assert.equal(r.stderr, `moe-prof: ${log}:3: not valid JSON\n`);
  assert.deepEqual(readdirSync(out), [], "nothing written for an invalid log");

  const l = await cli(["hist", log, "--out", out, "--lenient", "--json"]);
  assert.equal(l.exitCode, 0, l.stderr);
  const s = JSON.parse(l.stdout) as HistSummary;
  assert.equal(s.rows, 9);
  assert.equal(s.skipped_lines, 1);
  assert.match(l.stderr, /skipped .*:3: not valid JSON/);
  assert.match(l.stderr, /--lenient: 2 problems, 1 line skipped/); // the bad line, then the row it leaves missing in layer 0
});

test("validate CLI: exit 0 with a one-line summary, 1 with FILE:LINE: field, 2 for usage; no stack traces", async () => {
  const ok = await cli(["validate", path.join(FIXTURES, "seed-schema.jsonl")]);
  assert.equal(ok.exitCode, 0);
  assert.match(
    ok.stdout,
    /seed-schema\.jsonl: valid: 10 rows, 2 requests, 2 layers, top_k 2, num_experts not declared \(test\/tiny-moe\)\n$/,
  );

  const lines = goodLines();
  lines[3] = lines[3]!.replace('"token_idx":2', '"token_idx":-2');
  lines[6] = "[]";
  const bad = writeLog(lines);
  const r = await cli(["validate", bad]);
  assert.equal(r.exitCode, 1);
  assert.equal(r.stderr, `moe-prof: ${bad}:4: token_idx: must be >= 0\n`);
  const all = await cli(["validate", bad, "--all-errors"]);
  assert.equal(all.exitCode, 1);
  assert.match(
    all.stderr,
    new RegExp(`^${bad}:4: token_idx: must be >= 0\n${bad}:7: not a JSON object \\(got an array\\)\n`),
  );
  assert.match(all.stderr, /moe-prof: .*: invalid: \d+ errors in 11 lines\n$/);

  for (const args of [["validate"], ["hist", bad, "--layers", "x"], ["nope"]]) {
    const u = await cli(args);
    assert.equal(u.exitCode, 2, `${args.join(" ")}: ${u.stderr}`);
    assert.doesNotMatch(u.stderr, /\n\s+at /, "no stack trace");
  }
  const missing = await cli(["validate", path.join(tempDir(), "none.jsonl")]);
  assert.equal(missing.exitCode, 2);
  assert.match(missing.stderr, /^moe-prof: .*none\.jsonl: cannot read: no such file or directory \(ENOENT\)\n$/);
  const notDir = await cli([
    "hist",
    path.join(FIXTURES, "seed-schema.jsonl"),
    "--out",
    path.join(FIXTURES, "seed-schema.jsonl", "sub"),
  ]);
  assert.equal(notDir.exitCode, 2);
  assert.match(
    notDir.stderr,
    /^moe-prof: --out .*: cannot create: a part of the path is a file, not a directory \(ENOTDIR\)\n$/,
  );
  const layers = await cli(["hist", path.join(FIXTURES, "seed-schema.jsonl"), "--layers", "5", "--out", tempDir()]);
  assert.equal(layers.exitCode, 2);
  assert.match(layers.stderr, /--layers: 5 not logged in .* \(layers_logged: 0,3\)/);
});

test("--help explains usage and exit codes", async () => {
  for (const cmd of ["validate", "hist"]) {
    const h = await cli([cmd, "--help"]);
    assert.equal(h.exitCode, 0);
    assert.match(h.stdout, /Exit codes: 0 .*, 1 invalid log, 2 usage error/);
  }
});

test("hist on a log in `moe-prof run`'s folder never replaces the run's summary.json: it writes into <folder>/hist; --out naming the run's folder is refused", async () => {
  const file = writeLog(goodLines());
  const runDir = path.dirname(file);
  // what run leaves beside the log: summary.json with its run section (conservation, agreement)
  const runSummary = JSON.stringify({ rows: 10, run: { conservation: [{ ok: true }] } });
  writeFileSync(path.join(runDir, "summary.json"), runSummary);
  const r = await cli(["hist", file]);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(readFileSync(path.join(runDir, "summary.json"), "utf8"), runSummary);
  assert.ok(!existsSync(path.join(runDir, "expert_hist.png")), "nothing of hist's beside the run's files");
  const histDir = path.join(runDir, "hist");
  assert.equal((readJson(path.join(histDir, "summary.json")) as HistSummary).rows, 10);
  assert.match(r.stderr, /holds `moe-prof run`'s results, kept as they are: writing into .*\/hist\n/);
  assert.match(r.stdout, new RegExp(`wrote ${histDir}/expert_hist.png`));

  const again = await cli(["hist", file, "--out", runDir]);
  assert.equal(again.exitCode, 2);
  assert.equal(
    again.stderr,
    `moe-prof: --out ${runDir}: holds \`moe-prof run\`'s results (summary.json with its run section), which hist would replace: choose another --out\n`,
  );
  assert.equal(readFileSync(path.join(runDir, "summary.json"), "utf8"), runSummary);

  // a folder with hist's own summary.json (no run section) is written into as before
  const plain = writeLog(goodLines());
  assert.equal((await cli(["hist", plain])).exitCode, 0);
  assert.equal((await cli(["hist", plain])).exitCode, 0);
  assert.ok(existsSync(path.join(path.dirname(plain), "expert_hist.png")));
  assert.ok(!existsSync(path.join(path.dirname(plain), "hist")));
});
