// --layers on cache, place, export and compare: the result is the one of a log holding only those
// layers (cut by hand here, the meta line's layers_logged with it), while validation still
// covers every layer; a layer the log lacks is a usage error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { writeSynthRoutes, DEFAULT_SYNTH } from "../scripts/synth-routes.js";
import { CLI, tempDir, writeLog } from "./helpers.js";

const cli = (args: string[]) => execa(process.execPath, [CLI, ...args], { reject: false });

function synth(): string {
  const f = path.join(tempDir(), "moe_routes.jsonl");
  writeSynthRoutes(f, { ...DEFAULT_SYNTH, seed: 11, requests: 5, batch: 3, layers: 6, experts: 12, topK: 2 });
  return f;
}

/** The log with only `layers`: rows of other layers dropped, layers_logged cut to match. */
function cut(file: string, layers: number[]): string {
  const [meta, ...rows] = readFileSync(file, "utf8").trimEnd().split("\n");
  const m = JSON.parse(meta!) as { layers_logged: number[] };
  m.layers_logged = m.layers_logged.filter((l) => layers.includes(l));
  const kept = rows.filter((r) => layers.includes((JSON.parse(r) as { layer: number }).layer));
  return writeLog([JSON.stringify(m), ...kept]);
}

async function json(args: string[]): Promise<Record<string, unknown>> {
  const r = await cli([...args, "--json", "--out", tempDir()]);
  assert.equal(r.exitCode, 0, `${args.join(" ")}: ${r.stderr}`);
  const v = JSON.parse(r.stdout) as Record<string, unknown>;
  // What names the input or says how it was read differs; the results must not.
  return JSON.parse(
    JSON.stringify(v, (k, x: unknown) => (["source", "notes", "file", "bytes"].includes(k) ? undefined : x)),
  ) as Record<string, unknown>;
}

test("--layers gives what the log cut to those layers gives (cache, place, export eplb and r3, compare)", async () => {
  const log = synth();
  const layers = [1, 3, 4];
  const small = cut(log, layers);
  for (const c of [
    ["cache"],
    ["place", "--gpus", "2,4"],
    ["export", "--format", "eplb"],
    ["export", "--format", "r3"],
  ]) {
    const want = await json([c[0]!, small, ...c.slice(1)]);
    const got = await json([c[0]!, log, ...c.slice(1), "--layers", "1,3-4"]);
    assert.deepEqual(got, want, c.join(" "));
  }
  const full = await json(["cache", log]);
  assert.notDeepEqual(await json(["cache", log, "--layers", "1,3-4"]), full, "the filter changes the result");
  const other = synth();
  assert.deepEqual(
    await json(["compare", log, other, "--layers", "1,3-4"]),
    await json(["compare", small, cut(other, layers)]),
  );
});

test("--layers: validation still covers the layers left out; a layer not logged is exit 2", async () => {
  const log = synth();
  const lines = readFileSync(log, "utf8").trimEnd().split("\n");
  const i = lines.findIndex((l) => l.includes('"layer":0,'));
  lines[i] = lines[i]!.replace('"topk_ids":[', '"topk_ids":["x",');
  const bad = writeLog(lines);
  const r = await cli(["cache", bad, "--layers", "2", "--out", tempDir()]);
  assert.equal(r.exitCode, 1);
  assert.match(r.stderr, new RegExp(`moe_routes\\.jsonl:${i + 1}: topk_ids`));
  for (const c of [["cache"], ["place"], ["export", "--format", "eplb"]]) {
    const m = await cli([c[0]!, log, ...c.slice(1), "--layers", "2,9", "--out", tempDir()]);
    assert.equal(m.exitCode, 2, c[0]);
    assert.match(m.stderr, /--layers: 9 not logged in \S+ \(layers_logged: 0,1,2,3,4,5\)/);
  }
  const note = await cli(["cache", log, "--layers", "2", "--out", tempDir()]);
  assert.match(note.stderr, /note: --layers: 1 of the 6 logged layers analysed \(2\); validation covers all/);
});
