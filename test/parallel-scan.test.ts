// The multi-threaded scan must give exactly the sequential result, and never vouch for a bad log.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { analyseRoutesFile, analyseInParallel } from "../src/log-scan/analyse-routes.js";
import { writeSynthRoutes, DEFAULT_SYNTH } from "../scripts/synth-routes.js";
import { tempDir } from "./helpers.js";

function synthLog(optionalFields = true): string {
  const file = path.join(tempDir(), "moe_routes.jsonl");
  writeSynthRoutes(file, {
    ...DEFAULT_SYNTH,
    seed: 7,
    requests: 6,
    batch: 4,
    layers: 4,
    experts: 16,
    promptTokens: [5, 20],
    decodeTokens: [5, 30],
    optionalFields,
  });
  return file;
}

const PAR = { threads: 4, parallelMinBytes: 0 };

test("parallel and sequential analyses agree exactly (counts, pairs, repetition across part boundaries, requests)", async () => {
  const file = synthLog();
  for (const layers of [undefined, [1, 3]]) {
    const seq = await analyseRoutesFile(file, { threads: 1, layers });
    const par = await analyseInParallel(file, { ...PAR, layers });
    assert.ok(par !== null, "the parallel path must accept a valid log");
    assert.deepEqual(par, seq.summary);
    assert.ok(seq.summary.overall.top1_repetition.pairs > 0);
  }
});

test("logs without num_experts, or with any problem, are not vouched for by the parallel path", async () => {
  assert.equal(await analyseInParallel(synthLog(false), PAR), null);

  const file = synthLog();
  const lines = readFileSync(file, "utf8").split("\n");
  const n = lines.length - 1;
  const write = (ls: string[]) => {
    const f = path.join(tempDir(), "moe_routes.jsonl");
    writeFileSync(f, ls.join("\n"));
    return f;
  };
  // A duplicate whose copies land in different parts.
  const dup = [...lines];
  dup.splice(n - 1, 0, lines[2]!);
  assert.equal(await analyseInParallel(write(dup), PAR), null);
  // A missing row.
  const miss = [...lines];
  miss.splice(Math.floor(n * 0.9), 1);
  assert.equal(await analyseInParallel(write(miss), PAR), null);
  // A bad line late in the file: the public function reports it with its exact line number.
  const bad = [...lines];
  bad[n - 3] = bad[n - 3]!.replace('"layer":', '"layer":-');
  const badFile = write(bad);
  assert.equal(await analyseInParallel(badFile, PAR), null);
  await assert.rejects(analyseRoutesFile(badFile, PAR), (e: Error) =>
    e.message.startsWith(`${badFile}:${n - 2}: layer: `),
  );
});

test("without num_experts the tallies grow with the ids seen, and still count exactly", async () => {
  const file = path.join(tempDir(), "moe_routes.jsonl");
  writeSynthRoutes(file, {
    ...DEFAULT_SYNTH,
    seed: 3,
    requests: 3,
    layers: 3,
    experts: 200,
    topK: 6,
    promptTokens: [5, 9],
    decodeTokens: [5, 9],
    optionalFields: false,
  });
  const { summary } = await analyseRoutesFile(file);
  // Count the plain way.
  const counts = new Map<number, number>();
  const pairs = new Map<string, number>();
  let maxId = 0;
  for (const line of readFileSync(file, "utf8").trim().split("\n").slice(1)) {
    const ids = (JSON.parse(line) as { topk_ids: number[] }).topk_ids;
    for (const a of ids) {
      counts.set(a, (counts.get(a) ?? 0) + 1);
      maxId = Math.max(maxId, a);
      for (const b of ids) if (a < b) pairs.set(`${a},${b}`, (pairs.get(`${a},${b}`) ?? 0) + 1);
    }
  }
  assert.ok(maxId >= 64, "the log must use ids past the initial capacity");
  assert.equal(summary.num_experts, maxId + 1);
  assert.deepEqual(
    summary.overall.counts,
    Array.from({ length: maxId + 1 }, (_, e) => counts.get(e) ?? 0),
  );
  for (const p of summary.overall.top_pairs!) assert.equal(p.rows, pairs.get(p.experts.join(",")));
  const best = Math.max(...pairs.values());
  assert.equal(summary.overall.top_pairs![0]!.rows, best);
});
