// Logs of the original capture (fixtures/routes/seed-layout.jsonl: req_id "r0" for every row,
// token_idx the row's index within its step, restarting each step; 3 steps of 3, 2 and 1 rows):
// named in one line; `hist --as-batches` analyses them as written and says so; --lenient puts
// what it dropped in the headline and in summary.json. Expected counts worked out by hand.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { CLI, FIXTURES, readJson, tempDir } from "./helpers.js";
import type { HistSummary } from "../src/analysis/summary.js";

const LOG = path.join(FIXTURES, "seed-layout.jsonl");
const cli = (args: string[]) => execa(process.execPath, [CLI, ...args], { reject: false, timeout: 60_000 });
const HINT =
  "this looks like the original capture's layout (one req_id for every row, token_idx restarting at 0 each engine step): analyse it with `moe-prof hist --as-batches`";

test("validate and hist name the old layout in one line at the first collision", async () => {
  for (const args of [
    ["validate", LOG],
    ["hist", LOG, "--out", tempDir()],
  ]) {
    const r = await cli(args);
    assert.equal(r.exitCode, 1);
    assert.equal(
      r.stderr,
      `moe-prof: ${LOG}:8: duplicate row: req_id "r0", token_idx 0, layer 0 already seen; ${HINT}`,
    );
  }
});

test("a duplicate in a log of several requests gets no such hint", async () => {
  const lines = readFileSync(path.join(FIXTURES, "seed-schema.jsonl"), "utf8").trim().split("\n");
  lines.push(lines[1]!);
  const file = path.join(tempDir(), "dup.jsonl");
  await import("node:fs").then((fs) => fs.writeFileSync(file, lines.join("\n") + "\n"));
  const r = await cli(["validate", file]);
  assert.equal(r.stderr, `moe-prof: ${file}:12: duplicate row: req_id "a", token_idx 0, layer 0 already seen`);
});

test("hist --as-batches counts every row as written, labelled, with no per-request figures", async () => {
  const out = tempDir();
  const r = await cli(["hist", LOG, "--as-batches", "--json", "--out", out]);
  assert.equal(r.exitCode, 0, r.stderr);
  const s = JSON.parse(r.stdout) as HistSummary;
  assert.deepEqual(readJson(path.join(out, "summary.json")), s);
  assert.equal(s.rows, 12);
  assert.equal(s.grouping, "batches");
  assert.equal(s.batches, 3);
  assert.equal(s.requests, null);
  assert.deepEqual(s.per_request, []);
  // layer 0 rows {0,1} {2,3} {0,2} {0,1} {3,2} {0,3}; layer 3 {1,0} {3,0} {1,3} {3,1} {3,1} {2,1}
  assert.deepEqual(
    s.layers.map((l) => l.counts),
    [
      [4, 2, 3, 3],
      [2, 5, 1, 4],
    ],
  );
  assert.deepEqual(s.overall.counts, [6, 7, 4, 7]);
  assert.deepEqual([s.overall.top1_repetition.pairs, s.overall.top1_repetition.rate], [0, null]);
  assert.ok(s.notes.some((n) => /^--as-batches: rows counted as written and grouped into 3 batches/.test(n)));

  const human = await cli(["hist", LOG, "--as-batches", "--out", out]);
  assert.match(
    human.stdout,
    /^seed-layout\.jsonl: 12 rows, in 3 batches \(--as-batches: req_id\/token_idx do not identify requests\), 2 layers logged/,
  );
  assert.match(human.stdout, /top-1 repetition between consecutive tokens: not computed \(rows grouped as batches\)/);
});

test("--as-batches still applies the whole-file rules: a row lost from one layer is named", async () => {
  const lines = readFileSync(LOG, "utf8").trim().split("\n");
  lines.splice(8, 1); // step 2, layer 0, row 1
  const file = path.join(tempDir(), "lost.jsonl");
  await import("node:fs").then((fs) => fs.writeFileSync(file, lines.join("\n") + "\n"));
  const r = await cli(["hist", file, "--as-batches", "--out", tempDir()]);
  assert.equal(r.exitCode, 1);
  assert.equal(
    r.stderr,
    `moe-prof: ${file}: layer 0: missing row req_id "r0#batch1", token_idx 1, present in other layers`,
  );
});

test("--lenient on the old layout: the dropped share is in the headline, the pictures' data and summary.json", async () => {
  const out = tempDir();
  const r = await cli(["hist", LOG, "--lenient", "--out", out]);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /^seed-layout\.jsonl: 6 rows \(--lenient skipped 6 of 12 route lines: 50\.0%\), 1 request,/);
  assert.match(r.stderr, /--lenient: 6 problems, 6 lines skipped \(50\.0% of 12 route lines\)/);
  assert.match(r.stderr, /note: this looks like the original capture's layout/);
  const s = readJson(path.join(out, "summary.json")) as HistSummary;
  assert.deepEqual([s.rows, s.skipped_lines, s.skipped_share], [6, 6, 0.5]);
  assert.ok(s.notes.includes(HINT));
  const { expertHistSpec } = await import("../src/render/specs.js");
  const subtitle = (expertHistSpec(s) as { title: { subtitle: string[] } }).title.subtitle[0]!;
  assert.match(subtitle, /^6 route rows \(--lenient skipped 6 of 12 route lines: 50\.0%\)/);
});
