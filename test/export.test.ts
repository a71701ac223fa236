// export: every file read back with numpy (python3) and compared with values taken straight from
// the log's lines; the .npy and stored-zip writers on their own, ZIP64 records included.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { encodeNpy, encodeNpyStrings } from "../src/artifacts/npy.js";
import { StoredZipWriter } from "../src/artifacts/zip-store.js";
import { CLI, ROOT, tempDir, writeLog } from "./helpers.js";
import { parseLog, randomLog, type Row } from "./brute-force.js";

const cli = (args: string[]) => execa(process.execPath, [CLI, ...args], { reject: false });
const RECORDED = path.join(ROOT, "fixtures/recorded/hf-smoke-h100/moe_routes.jsonl");

/** Loads .npy or .npz files with numpy; returns {name: {dtype, shape, values}} as JSON. */
async function numpyLoad(file: string): Promise<Record<string, { dtype: string; shape: number[]; values: unknown }>> {
  const py = `
import json, sys, zipfile
import numpy as np
f = sys.argv[1]
out = {}
if f.endswith(".npz"):
    assert zipfile.ZipFile(f).testzip() is None
    with np.load(f, allow_pickle=False) as z:
        for k in z.files:
            a = z[k]
            out[k] = {"dtype": a.dtype.str, "shape": list(a.shape), "values": a.tolist()}
else:
    a = np.load(f, allow_pickle=False)
    out["array"] = {"dtype": a.dtype.str, "shape": list(a.shape), "values": a.tolist()}
print(json.dumps(out))
`;
  const r = await execa("python3", ["-c", py, file]);
  return JSON.parse(r.stdout);
}

test("npy: numpy reads every dtype and shape we write, headers 64-byte aligned", async () => {
  const dir = tempDir();
  const cases: [
    string,
    "<i2" | "<i4" | "<i8" | "<f8",
    number[],
    Int16Array | Int32Array | BigInt64Array | Float64Array,
  ][] = [
    ["a.npy", "<i2", [2, 3], Int16Array.from([1, -2, 3, 32767, -32768, 0])],
    ["b.npy", "<i8", [3], BigInt64Array.from([1n, 2n ** 40n, -5n])],
    ["c.npy", "<f8", [1, 2, 1], Float64Array.from([0.5, -1e300])],
    ["d.npy", "<i4", [0, 4], new Int32Array(0)],
    ["e.npy", "<i2", [], Int16Array.from([7])],
  ];
  for (const [name, dtype, shape, data] of cases) {
    const buf = encodeNpy(dtype, shape, data);
    assert.equal((buf.readUInt16LE(8) + 10) % 64, 0);
    const f = path.join(dir, name);
    (await import("node:fs")).writeFileSync(f, buf);
    const got = (await numpyLoad(f)).array!;
    assert.equal(got.dtype, dtype);
    assert.deepEqual(got.shape, shape);
    assert.deepEqual([got.values].flat(Infinity), Array.from(data as ArrayLike<number | bigint>, Number));
  }
  const s = path.join(dir, "s.npy");
  (await import("node:fs")).writeFileSync(s, encodeNpyStrings(["0", "req-ü", "𝔘x"]));
  assert.deepEqual((await numpyLoad(s)).array!.values, ["0", "req-ü", "𝔘x"]);
});

test("stored zip: numpy/zipfile read it, classic and forced ZIP64, UTF-8 names; no temp file left", async () => {
  for (const forceZip64 of [false, true]) {
    const dir = tempDir();
    const file = path.join(dir, "x.npz");
    const zip = await StoredZipWriter.create(file, { forceZip64 });
    await zip.add("a.npy", [encodeNpy("<i2", [2], Int16Array.from([4, 5]))]);
    await zip.add("dir/ü.npy", [
      encodeNpy("<i8", [1], BigInt64Array.from([9n])).subarray(0, 64),
      encodeNpy("<i8", [1], BigInt64Array.from([9n])).subarray(64),
    ]);
    await zip.add("empty.npy", [encodeNpy("<i4", [0], new Int32Array(0))]);
    await zip.finish();
    const got = await numpyLoad(file);
    assert.deepEqual(Object.keys(got).sort(), ["a", "dir/ü", "empty"]);
    assert.deepEqual(got.a!.values, [4, 5]);
    assert.deepEqual(got["dir/ü"]!.values, [9]);
    assert.deepEqual(readdirSync(dir), ["x.npz"]);
  }
  const dir = tempDir();
  const zip = await StoredZipWriter.create(path.join(dir, "y.npz"));
  await zip.add("a.npy", [encodeNpy("<i2", [1], Int16Array.from([1]))]);
  await zip.abort();
  assert.deepEqual(readdirSync(dir), [], "an aborted archive leaves nothing");
});

function layerCountsByHand(rows: Row[], layers: number[], E: number): number[][] {
  return [...layers]
    .sort((a, b) => a - b)
    .map((l) => {
      const c = Array(E).fill(0);
      for (const r of rows) if (r.layer === l) for (const e of r.topk_ids) c[e]++;
      return c;
    });
}

test("export eplb: int64 [layers, experts] counts equal counting the lines", async () => {
  for (const [text, E] of [
    [randomLog({ seed: 21, requests: 4, layers: [2, 0, 1], experts: 7, topK: 3, maxTokens: 9 }), 7],
    [readFileSync(RECORDED, "utf8"), 60],
  ] as const) {
    const log = writeLog(text.trimEnd().split("\n"));
    const out = tempDir();
    const r = await cli(["export", log, "--format", "eplb", "--out", out, "--json"]);
    assert.equal(r.exitCode, 0, r.stderr);
    const { meta, rows } = parseLog(text);
    const layers = meta.layers_logged as number[];
    const got = (await numpyLoad(path.join(out, "expert_counts.npy"))).array!;
    assert.equal(got.dtype, "<i8");
    assert.deepEqual(got.shape, [layers.length, E]);
    assert.deepEqual(got.values, layerCountsByHand(rows, layers, E));
    const m = JSON.parse(r.stdout);
    assert.deepEqual(
      m.details.layers,
      [...layers].sort((a, b) => a - b),
    );
    assert.deepEqual(JSON.parse(readFileSync(path.join(out, "export_eplb.json"), "utf8")), m);
  }
});

/** Per request: [positions, layers (ascending), k] from the lines, split at the first decode position. */
function r3ByHand(rows: Row[], layers: number[]): Map<string, { prompt: number[][][]; routed: number[][][] }> {
  const sorted = [...layers].sort((a, b) => a - b);
  const out = new Map<string, { prompt: number[][][]; routed: number[][][] }>();
  const reqs = [...new Set(rows.map((r) => r.req_id))];
  for (const q of reqs) {
    const mine = rows.filter((r) => r.req_id === q);
    const T = Math.max(...mine.map((r) => r.token_idx)) + 1;
    const tokens = Array.from({ length: T }, (_, t) =>
      sorted.map((l) => mine.find((r) => r.token_idx === t && r.layer === l)!.topk_ids),
    );
    const P = mine.filter((r) => r.phase === "prefill").reduce((m, r) => Math.max(m, r.token_idx + 1), 0);
    out.set(q, { prompt: tokens.slice(0, P), routed: tokens.slice(P) });
  }
  return out;
}

test("export r3: per-request int16 [tokens, layers, top_k] arrays equal the lines (random log and the H100 log)", async () => {
  for (const text of [
    randomLog({ seed: 22, requests: 5, layers: [1, 0, 3], experts: 9, topK: 2, maxTokens: 10 }),
    readFileSync(RECORDED, "utf8"),
  ]) {
    const log = writeLog(text.trimEnd().split("\n"));
    const out = tempDir();
    const r = await cli(["export", log, "--format", "r3", "--out", out]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /r3 export routed_experts\.npz/);
    const { meta, rows } = parseLog(text);
    const layers = meta.layers_logged as number[];
    const k = meta.top_k as number;
    const got = await numpyLoad(path.join(out, "routed_experts.npz"));
    const want = r3ByHand(rows, layers);
    assert.deepEqual(got.req_ids!.values, [...want.keys()]);
    assert.equal(Object.keys(got).length, 2 * want.size + 1);
    for (const [q, w] of want) {
      const p = got[`${q}/prompt_routed_experts`]!;
      const d = got[`${q}/routed_experts`]!;
      assert.equal(p.dtype, "<i2");
      assert.equal(d.dtype, "<i2");
      assert.deepEqual(p.shape, [w.prompt.length, layers.length, k]);
      assert.deepEqual(d.shape, [w.routed.length, layers.length, k]);
      assert.deepEqual(p.values, w.prompt);
      assert.deepEqual(d.values, w.routed);
    }
  }
});

test("export r3 refuses what its layout cannot hold, with one line each; keys fall back to indices", async () => {
  const text = randomLog({ seed: 23, requests: 2, layers: [0, 1], experts: 4, topK: 2, maxTokens: 5 });
  const lines = text.trimEnd().split("\n");
  const noPhase = lines.map((l, i) => (i === 3 ? l.replace(/,"phase":"\w+"/, "") : l));
  let r = await cli(["export", writeLog(noPhase), "--format", "r3", "--out", tempDir()]);
  assert.equal(r.exitCode, 1);
  assert.match(r.stderr, /^moe-prof: .*: phase: missing on the row req_id "q\d", token_idx \d+, layer \d .*\)$/);

  const shifted = lines.map((l, i) =>
    i === 0 ? l : l.replace(/"token_idx":(\d+)/, (_, t) => `"token_idx":${Number(t) + 5}`),
  );
  r = await cli(["export", writeLog(shifted), "--format", "r3", "--out", tempDir()]);
  assert.equal(r.exitCode, 1);
  assert.match(r.stderr, /request "q\d": positions are not 0\.\.\d+ in every layer/);

  r = await cli(["export", writeLog(lines), "--format", "arrow", "--out", tempDir()]);
  assert.equal(r.exitCode, 2);
  assert.match(r.stderr, /--format: unknown "arrow" \(expected eplb, r3 or parquet\)/);

  const odd = lines.map((l) => l.replace(/"req_id":"q(\d)"/, '"req_id":"q/$1 x"'));
  const out = tempDir();
  r = await cli(["export", writeLog(odd), "--format", "r3", "--out", out, "--json"]);
  assert.equal(r.exitCode, 0, r.stderr);
  const got = await numpyLoad(path.join(out, "routed_experts.npz"));
  assert.deepEqual(Object.keys(got).sort(), [
    "0/prompt_routed_experts",
    "0/routed_experts",
    "1/prompt_routed_experts",
    "1/routed_experts",
    "req_ids",
  ]);
  assert.deepEqual(got.req_ids!.values, ["q/0 x", "q/1 x"]);
});
