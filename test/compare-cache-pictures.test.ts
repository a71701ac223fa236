// Issue 17 item 8, compare and expert_cache.png: two runs' moe_routes.jsonl are told apart by
// their folders; logs of differently shaped models are refused; the cache picture draws no line
// between capacities that were not simulated and labels whole capacities only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { distinctNames } from "../src/commands/compare/index.js";
import { runCache } from "../src/commands/cache/index.js";
import { cacheSpec, contiguous } from "../src/render/cache-spec.js";
import { CLI, FIXTURES, ROOT, tempDir } from "./helpers.js";

const cli = (args: string[]) => execa(process.execPath, [CLI, ...args], { reject: false });
const FULL = path.join(FIXTURES, "full-schema.jsonl");
const RECORDED = path.join(ROOT, "fixtures/recorded/hf-smoke-h100/moe_routes.jsonl");

test("compare names two logs of the same file name by their folders (title and JSON)", async () => {
  const d = tempDir();
  for (const run of ["runA", "runB"]) {
    mkdirSync(path.join(d, run));
    copyFileSync(FULL, path.join(d, run, "moe_routes.jsonl"));
  }
  const r = await cli([
    "compare",
    path.join(d, "runA/moe_routes.jsonl"),
    path.join(d, "runB/moe_routes.jsonl"),
    "--out",
    tempDir(),
    "--json",
  ]);
  assert.equal(r.exitCode, 0, r.stderr);
  const v = JSON.parse(r.stdout) as { a: { file: string }; b: { file: string } };
  assert.deepEqual([v.a.file, v.b.file], ["runA/moe_routes.jsonl", "runB/moe_routes.jsonl"]);
  assert.deepEqual(distinctNames("x/a.jsonl", "y/b.jsonl"), ["a.jsonl", "b.jsonl"]);
  assert.deepEqual(distinctNames("/p/q/r/moe.jsonl", "/p/s/r/moe.jsonl"), ["q/r/moe.jsonl", "s/r/moe.jsonl"]);
});

test("compare refuses logs of differently shaped models (experts, top_k) with one line, exit 1", async () => {
  const r = await cli(["compare", FULL, RECORDED, "--out", tempDir()]);
  assert.equal(r.exitCode, 1);
  assert.match(
    r.stderr,
    /^moe-prof: \S+full-schema\.jsonl and \S+moe_routes\.jsonl route differently shaped models \(6 vs 60 experts, top-2 vs top-4; test\/tiny-moe vs random-weights\/qwen1\.5-moe-a2\.7b\): compare takes two logs of one model$/,
  );
  assert.equal(r.stdout, "");
});

test("expert_cache.png: points only for capacities with gaps, a line for 1..N; ticks at whole capacities", async () => {
  assert.equal(contiguous([1, 2, 3]), true);
  assert.equal(contiguous([4, 8, 16]), false);
  const few = cacheSpec(await runCache(RECORDED, { capacities: "4,8,16" })) as unknown as {
    mark: { type: string };
    encoding: { x: { axis: { values?: number[]; format: string } } };
  };
  assert.equal(few.mark.type, "point");
  assert.deepEqual(few.encoding.x.axis.values, [4, 8, 16]);
  assert.equal(few.encoding.x.axis.format, "d");
  const all = cacheSpec(await runCache(FULL, {})) as unknown as typeof few;
  assert.equal(all.mark.type, "line");
  assert.equal(all.encoding.x.axis.format, "d");
});
