// Parquet routes logs: `export --format parquet` written by our encoder and read back by an
// independent reader (hyparquet, directly) against the JSONL lines; validate and hist of the
// Parquet file equal to those of the JSONL; problems reported as "row N"; damaged files refused;
// and the capture's Python writer (format both) giving the same rows in both files.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync, existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { runExport } from "../src/commands/export/index.js";
import { validateRoutesFile } from "../src/log-scan/validate-file.js";
import { analyseRoutesFile } from "../src/log-scan/analyse-routes.js";
import { ParquetRouteWriter } from "../src/artifacts/parquet-writer.js";
import { packageRoot } from "../src/config/package-info.js";
import { META, route, tempDir, writeLog } from "./helpers.js";

/** Rows of a Parquet file read by hyparquet itself, int64 as numbers. */
async function hyparquetRows(file: string): Promise<{ rows: Record<string, unknown>[]; kv: Record<string, string> }> {
  const { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } = await import("hyparquet");
  const buf = await asyncBufferFromFile(file);
  const md = await parquetMetadataAsync(buf);
  // hyparquet has snappy only built in: gzip and zstd pages through the functions the CLI gives it.
  const { HYPARQUET_COMPRESSORS } = await import("../src/routes/parquet-codecs.js");
  const rows = (await parquetReadObjects({ file: buf, metadata: md, compressors: HYPARQUET_COMPRESSORS })).map((r) =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === "bigint" ? Number(v) : v])),
  );
  return { rows, kv: Object.fromEntries((md.key_value_metadata ?? []).map((x) => [x.key, x.value ?? ""])) };
}

/** A log with every kind of row: optional fields present and absent, unicode, several requests. */
function mixedLog(): string[] {
  const meta = { ...META, layers_logged: [0, 3], top_k: 2, num_experts: 6 };
  const lines = [JSON.stringify(meta)];
  const reqs = ["r0", "é😀", "7"];
  for (let t = 0; t < 70; t++) {
    for (const q of reqs) {
      for (const layer of [0, 3]) {
        const extra: Record<string, unknown> = {};
        if (t % 3 !== 0) extra.phase = t < 40 ? "prefill" : "decode";
        if (t % 5 !== 0) extra.token_id = 1000 + t;
        if (t % 7 !== 0) extra.step = t;
        lines.push(
          JSON.stringify(
            route(
              q,
              t,
              layer,
              [(t + layer) % 6, (t + layer + 1 + (q.length % 4)) % 6],
              [0.1 + (t % 9) / 10 - 0.05, 0.30000000000000004],
              extra,
            ),
          ),
        );
      }
    }
  }
  return lines;
}

test("export --format parquet: every row, as hyparquet reads it back, equals the JSONL line; the meta line is in moe_prof.meta", async () => {
  const lines = mixedLog();
  const log = writeLog(lines);
  const out = path.join(tempDir(), "sub", "routes.parquet");
  const m = await runExport(log, { format: "parquet", out, json: true });
  assert.equal(m.rows, lines.length - 1);
  assert.ok(existsSync(out));
  assert.deepEqual(readdirSync(path.dirname(out)).sort(), ["export_parquet.json", "routes.parquet"]);
  const { rows, kv } = await hyparquetRows(out);
  assert.deepEqual(JSON.parse(kv["moe_prof.meta"]!), JSON.parse(lines[0]!));
  assert.equal(rows.length, lines.length - 1);
  rows.forEach((r, i) => {
    const want = JSON.parse(lines[i + 1]!) as Record<string, unknown>;
    const got: Record<string, unknown> = { type: "route" };
    for (const [k, v] of Object.entries(r)) if (v !== null && v !== undefined) got[k] = v;
    assert.deepEqual(got, want, `row ${i}`);
  });
});

test("validate and hist of the exported Parquet file equal those of the JSONL log", async () => {
  const lines = mixedLog();
  const log = writeLog(lines);
  const out = path.join(tempDir(), "routes.parquet");
  await runExport(log, { format: "parquet", out });
  const a = await validateRoutesFile(log);
  const b = await validateRoutesFile(out);
  assert.equal(b.valid, true);
  assert.equal(b.scan.rows, a.scan.rows);
  assert.deepEqual(b.scan.requests, a.scan.requests);
  const ha = await analyseRoutesFile(log, { threads: 1 });
  const hb = await analyseRoutesFile(out, { threads: 1 });
  assert.deepEqual({ ...hb.summary, source: null }, { ...ha.summary, source: null });
});

test("an invalid row in a Parquet log is reported as 'row N' with the JSONL's field and message; --all-errors counts each once", async () => {
  const dir = tempDir();
  const file = path.join(dir, "bad.parquet");
  const meta = { ...META, layers_logged: [0, 3], top_k: 2 };
  const w = new ParquetRouteWriter(file, 2, JSON.stringify(meta));
  w.add({ req_id: "a", token_idx: 0, layer: 0, topk_ids: [0, 1], topk_weights: [0.5, 0.5] });
  w.add({ req_id: "a", token_idx: 0, layer: 3, topk_ids: [0, 1], topk_weights: [0.5, 1.5] });
  w.add({ req_id: "a", token_idx: 0, layer: 3, topk_ids: [2, 1], topk_weights: [0.5, 0.5] });
  w.finish();
  const r = await validateRoutesFile(file, { allErrors: true });
  assert.equal(r.valid, false);
  assert.deepEqual(r.errors, [`${file}: row 2: topk_weights[1]: must be in [0, 1]`]);
  const first = await validateRoutesFile(file);
  assert.equal(first.errors[0], `${file}: row 2: topk_weights[1]: must be in [0, 1]`);
});

test("a Parquet file without moe_prof.meta, or cut short, is refused with one line", async () => {
  const dir = tempDir();
  const good = path.join(dir, "good.parquet");
  const w = new ParquetRouteWriter(good, 2, JSON.stringify({ ...META, top_k: 2 }));
  w.add({ req_id: "a", token_idx: 0, layer: 0, topk_ids: [0, 1], topk_weights: [0.5, 0.5] });
  w.add({ req_id: "a", token_idx: 0, layer: 3, topk_ids: [0, 1], topk_weights: [0.5, 0.5] });
  w.finish();
  assert.equal((await validateRoutesFile(good)).valid, true);
  const bytes = readFileSync(good);
  const noMeta = path.join(dir, "nometa.parquet");
  const at = bytes.indexOf("moe_prof.meta");
  writeFileSync(noMeta, Buffer.concat([bytes.subarray(0, at), Buffer.from("moe_prof.xxxx"), bytes.subarray(at + 13)]));
  const r1 = await validateRoutesFile(noMeta);
  assert.equal(r1.valid, false);
  assert.match(r1.errors[0]!, /nometa\.parquet: no "moe_prof\.meta" key-value metadata/);
  const cut = path.join(dir, "cut.parquet");
  writeFileSync(cut, bytes.subarray(0, bytes.length - 30));
  const r2 = await validateRoutesFile(cut);
  assert.equal(r2.valid, false);
  assert.match(r2.errors[0]!, /cut\.parquet: not a readable Parquet file/);
});

test("the capture's writer with format both: the Parquet file holds the JSONL's rows (weights as the router's float32)", async () => {
  const dir = tempDir();
  const out = path.join(dir, "moe_routes.jsonl");
  const py = `
import sys
import numpy as np
from moe_prof.capture import Segment
from moe_prof.capture.jsonl import format_meta
from moe_prof.capture.writer_client import WriterClient
out, K, E, layers = sys.argv[1], 4, 60, [0, 5, 7]
meta = {"model_id": "m", "vllm_version": "0.15.1", "torch_version": "2.9.1", "device": "d", "seed": 0,
        "num_experts": E, "layers_logged": layers, "top_k": K}
rng = np.random.default_rng(3)
def arrays(n):
    ids = np.stack([np.stack([rng.permutation(E)[:K] for _ in layers]) for _ in range(n)]).astype(np.int32)
    w = rng.random((n, len(layers), K), dtype=np.float32)
    w[0, 0, 0] = np.float32(1e-7)
    return ids, w, rng.integers(0, 1000, size=n, dtype=np.int64)
w = WriterClient(out, format_meta(meta), "both")
w.send_step(0, [Segment("0", 0, 5, "prefill"), Segment("1", 0, 3, "prefill")], layers, *arrays(8))
for step in range(1, 4):
    ids, wt, tok = arrays(3)
    w.send_step(step, [Segment("0", 4 + step, 1, "decode"), Segment("2", 0, 1, "recomputed"), Segment("1", 2 + step, 1, "decode")], layers, ids, wt, tok if step != 2 else None)
print(w.close())
`;
  execFileSync("python3", ["-c", py, out], { env: { ...process.env, PYTHONPATH: path.join(packageRoot(), "python") } });
  const pq = path.join(dir, "moe_routes.parquet");
  const jsonl = readFileSync(out, "utf8").trim().split("\n");
  const { rows, kv } = await hyparquetRows(pq);
  assert.deepEqual(JSON.parse(kv["moe_prof.meta"]!), JSON.parse(jsonl[0]!));
  assert.equal(rows.length, jsonl.length - 1);
  rows.forEach((r, i) => {
    const want = JSON.parse(jsonl[i + 1]!) as Record<string, unknown>;
    const got: Record<string, unknown> = { type: "route" };
    for (const [k, v] of Object.entries(r)) if (v !== null && v !== undefined) got[k] = v;
    // the JSONL's 9 significant digits give back the float32 the Parquet file holds
    want.topk_weights = (want.topk_weights as number[]).map((x) => Math.fround(x));
    assert.deepEqual(got, want, `row ${i}`);
  });
  const a = await analyseRoutesFile(out, { threads: 1 });
  const b = await analyseRoutesFile(pq, { threads: 1 });
  assert.deepEqual({ ...b.summary, source: null }, { ...a.summary, source: null });
});

test("moe-prof's own Parquet files are read by its own reader, row for row as hyparquet reads them", async () => {
  const { readRoutesParquet } = await import("../src/routes/parquet-routes.js");
  const { scanRoutesFile } = await import("../src/routes/scan.js");
  const lines = mixedLog();
  lines[40] = lines[40]!.replace('"topk_weights":[', '"topk_weights":[1.5,').replace(/,0\.30000000000000004\]/, "]"); // one bad row
  const log = writeLog(lines);
  const out = path.join(tempDir(), "routes.parquet");
  // the bad row is refused by export (invalid log): write it with --lenient, then the Parquet file is valid
  await runExport(log, { format: "parquet", out, lenient: true });
  const seen: unknown[] = [];
  assert.notEqual(
    await readRoutesParquet(out, { value: (v) => seen.push(v), stopped: false }),
    null,
    "the file was taken",
  );
  assert.equal(seen.length, lines.length - 1); // meta + every row but the skipped one
  const rows = async () => {
    const got: string[] = [];
    const r = await scanRoutesFile(out, {
      mode: "all-errors",
      onRow: (row, req, li) => got.push(JSON.stringify([req, li, row])),
    });
    return JSON.stringify({ r, got });
  };
  const plain = await rows();
  process.env.MOE_PROF_PARQUET_READER = "hyparquet";
  try {
    assert.equal(await rows(), plain);
  } finally {
    delete process.env.MOE_PROF_PARQUET_READER;
  }
});
