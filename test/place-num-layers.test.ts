// place's SGLang files when the log covers fewer layers than the model: said in the report and
// on stderr, and --num-layers N makes the map N layers long (unlogged layers trivial).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { runPlace } from "../src/commands/place/index.js";
import { CLI, ROOT, tempDir, writeLog } from "./helpers.js";
import { randomLog } from "./brute-force.js";

const RECORDED = path.join(ROOT, "fixtures/recorded/hf-smoke-h100/moe_routes.jsonl");

test("without --num-layers the SGLang entry and a note say how many layers the map covers", async () => {
  const { report } = await runPlace(RECORDED, { gpus: "2", layers: "0-3" });
  assert.match(
    report.sglang_init_expert_location[0]!.reason!,
    /it covers layers 0\.\.3 \(the log's largest layer \+ 1\): a model with more layers needs --num-layers N/,
  );
  assert.ok(report.notes.some((n) => n.includes("pass --num-layers N")));
});

test("--num-layers 24 on a log of layers 0-3: 24 rows, 20 trivial; fewer than the logged layers: exit 2", async () => {
  const out = tempDir();
  const r = await execa(
    process.execPath,
    [CLI, "place", RECORDED, "--gpus", "2", "--layers", "0-3", "--num-layers", "24", "--out", out],
    { reject: false },
  );
  assert.equal(r.exitCode, 0, r.stderr);
  const map = (
    JSON.parse(readFileSync(path.join(out, "sglang_expert_location_g2.json"), "utf8")) as {
      physical_to_logical_map: number[][];
    }
  ).physical_to_logical_map;
  assert.equal(map.length, 24);
  const trivial = map[0]!.map((_, p) => p % 60);
  for (let l = 4; l < 24; l++) assert.deepEqual(map[l], trivial, `layer ${l}`);
  assert.notDeepEqual(map[0], trivial);
  const bad = await execa(
    process.execPath,
    [CLI, "place", RECORDED, "--gpus", "2", "--num-layers", "10", "--out", out],
    { reject: false },
  );
  assert.equal(bad.exitCode, 2);
  assert.match(bad.stderr, /--num-layers: 10 does not hold the logged layer 23/);
});

/** A random log whose meta line says the model's layer count (as the capture now writes it). */
function withNumLayers(numLayers: number, layers = [0, 2, 3]): string {
  const lines = randomLog({ seed: 9, requests: 3, layers, experts: 8, topK: 2, maxTokens: 5 }).split("\n");
  lines[0] = JSON.stringify({ ...JSON.parse(lines[0]!), num_layers: numLayers });
  return writeLog(lines.filter((l) => l.length > 0));
}

test("the meta line's num_layers sizes the SGLang map without --num-layers; a --num-layers that disagrees: exit 2", async () => {
  const log = withNumLayers(6);
  const { report, sglang } = await runPlace(log, { gpus: "2" });
  assert.ok(!report.notes.some((n) => n.includes("--num-layers")), report.notes.join("\n"));
  assert.equal(
    report.sglang_init_expert_location[0]!.reason,
    "3 of its 6 layers are not in the log: they get SGLang's trivial map",
  );
  const map = (JSON.parse(sglang[0]!.data.toString()) as { physical_to_logical_map: number[][] })
    .physical_to_logical_map;
  assert.equal(map.length, 6);
  for (const l of [1, 4, 5]) assert.deepEqual(map[l], [0, 1, 2, 3, 4, 5, 6, 7, 0, 1], `layer ${l}`);
  const bad = await execa(
    process.execPath,
    [CLI, "place", log, "--gpus", "2", "--num-layers", "8", "--out", tempDir()],
    {
      reject: false,
    },
  );
  assert.equal(bad.exitCode, 2);
  assert.match(
    bad.stderr,
    /--num-layers: 8, but the meta line of .*moe_routes\.jsonl says num_layers 6 \(the model's layer count\)/,
  );
});

test("validate refuses a num_layers that does not hold every logged layer", async () => {
  const r = await execa(process.execPath, [CLI, "validate", withNumLayers(3)], { reject: false });
  assert.equal(r.exitCode, 1);
  assert.match(r.stderr + r.stdout, /:1: num_layers: must be > every layer in layers_logged \(layers count from 0\)/);
});
