// Things users hit (issue 8): hist --json is one line unless --pretty; validate --all-errors names a
// bad line once (not again as the row it leaves missing); hist --lenient prints its count once;
// synth-routes --help; the heatmap's colour scale and the histogram's mean-load label.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import path from "node:path";
import { CLI, ROOT, FIXTURES, goodLines, tempDir, writeLog } from "./helpers.js";
import { expertHeatmapSpec, expertHistSpec } from "../src/render/specs.js";
import type { HistSummary } from "../src/analysis/summary.js";

const run = promisify(execFile);
async function cli(args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [CLI, ...args]);
    return { exitCode: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { exitCode: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

test("hist --json prints one line; --pretty prints summary.json's indented form; both the same object", async () => {
  const log = path.join(FIXTURES, "full-schema.jsonl");
  const compact = await cli(["hist", log, "--out", tempDir(), "--json"]);
  assert.equal(compact.exitCode, 0, compact.stderr);
  assert.equal(compact.stdout.trimEnd().split("\n").length, 1);
  const pretty = await cli(["hist", log, "--out", tempDir(), "--json", "--pretty"]);
  assert.ok(pretty.stdout.split("\n").length > 20);
  assert.deepEqual(JSON.parse(compact.stdout), JSON.parse(pretty.stdout));
  assert.ok(compact.stdout.length < pretty.stdout.length);
});

test("validate --all-errors: a bad line that names its row is not reported again as that row missing", async () => {
  const lines = goodLines(); // r0 tokens 0-2 and r1 tokens 0-1, layers 0 and 3
  lines[2] = lines[2]!.replace("[0.6,0.4]", "[0.6,1.4]"); // r0 token 1, layer 0
  lines[8] = lines[8]!.replace('"topk_ids":[', '"topk_ids":[9,'); // r1 token 0, layer 3: 3 ids
  lines.splice(5, 1); // r1 token 1, layer 0: really missing
  const log = writeLog(lines);
  const r = await cli(["validate", log, "--all-errors"]);
  assert.equal(r.exitCode, 1);
  assert.equal(
    r.stderr,
    [
      `${log}:3: topk_weights[1]: must be in [0, 1]`,
      `${log}:8: topk_ids: must have top_k = 2 entries`,
      `${log}: layer 0: missing row req_id "r1", token_idx 1, present in other layers`,
      `moe-prof: ${log}: invalid: 3 errors in 10 lines`,
      "",
    ].join("\n"),
  );
});

test("hist --lenient prints the count of skipped lines once", async () => {
  const lines = goodLines();
  lines[2] = "{oops";
  const r = await cli(["hist", writeLog(lines), "--out", tempDir(), "--lenient"]);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(r.stderr.match(/--lenient: 2 problems, 1 line skipped/g)?.length, 1, r.stderr);
});

test("synth-routes --help prints its usage and exits 0", async () => {
  const r = await run(process.execPath, [path.join(ROOT, "dist/scripts/synth-routes.js"), "--help"]);
  assert.match(r.stdout, /^usage: node dist\/scripts\/synth-routes\.js OUT\.jsonl/);
});

test("the heatmap colours share / uniform on a log2 scale (legend says so); the mean-load label sits right of the bars", async () => {
  const r = await cli(["hist", path.join(FIXTURES, "full-schema.jsonl"), "--out", tempDir(), "--json"]);
  const s = JSON.parse(r.stdout) as HistSummary;
  const heat = JSON.stringify(expertHeatmapSpec(s));
  assert.match(heat, /"type":"log","base":2/);
  assert.match(heat, /Share \/ uniform","\(log2 scale\)/);
  assert.match(heat, /log2 scale, blue below and orange above the uniform share/);
  const hist = expertHistSpec(s) as unknown as { layer: { mark: { type: string; x?: unknown; align?: string } }[] };
  const label = hist.layer.find((l) => l.mark.type === "text" && l.mark.x !== undefined)!;
  assert.deepEqual(label.mark.x, { expr: "width" });
  assert.equal(label.mark.align, "left");
});
