// Parquet routes logs other writers made (fixtures/routes/others, from scripts/make-parquet-fixtures.py:
// DuckDB, polars, pyarrow; dictionaries, data page v2, many pages and row groups, snappy, zstd,
// nulls, empty and null lists, extra columns, bad rows): moe-prof's reader (parquet-routes.ts)
// hands on exactly the rows hyparquet reads, decompressed independently (fzstd, zlib; the CLI's
// zstd is zstd's C library), the scan words the same problems through either, and the valid
// files analyse as the JSONL they came from; row groups split across threads analyse as on one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import path from "node:path";
import { decompress as fzstd } from "fzstd";
import { readRoutesParquet } from "../src/routes/parquet-routes.js";
import { scanRoutesFile } from "../src/routes/scan.js";
import { analyseRoutesFile, analyseInParallel, parallelPlan } from "../src/log-scan/analyse-routes.js";
import { ParquetRouteWriter } from "../src/artifacts/parquet-writer.js";
import { FIXTURES, META, tempDir } from "./helpers.js";

const OTHERS = path.join(FIXTURES, "others");
const files = readdirSync(OTHERS).filter((f) => f.endsWith(".parquet"));

/** hyparquet's rows as the scan is handed them: type "route" unless a column says, nulls left out, int64 as numbers. */
async function hyparquetValues(file: string): Promise<unknown[]> {
  const { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } = await import("hyparquet");
  const buf = await asyncBufferFromFile(file);
  const metadata = await parquetMetadataAsync(buf);
  const compressors = { ZSTD: (b: Uint8Array) => fzstd(b), GZIP: (b: Uint8Array) => gunzipSync(b) };
  const plain = (v: unknown): unknown => (typeof v === "bigint" ? Number(v) : Array.isArray(v) ? v.map(plain) : v);
  return (await parquetReadObjects({ file: buf, metadata, compressors })).map((r) => {
    const o: Record<string, unknown> = { type: "route" };
    for (const [k, v] of Object.entries(r)) if (v !== null && v !== undefined) o[k] = plain(v);
    return o;
  });
}

/** What moe-prof's reader hands on (copied: it refills one row object), or null if it declined. */
async function ourValues(file: string): Promise<unknown[] | null> {
  const seen: unknown[] = [];
  const r = await readRoutesParquet(file, {
    value: (v, lineNo) => {
      assert.equal(lineNo, seen.length + 1);
      seen.push(structuredClone(v));
    },
    stopped: false,
  });
  return r === null ? null : seen.slice(1);
}

async function scanWith(file: string, reader: "ours" | "hyparquet"): Promise<string> {
  if (reader === "hyparquet") process.env.MOE_PROF_PARQUET_READER = "hyparquet";
  try {
    const rows: string[] = [];
    const r = await scanRoutesFile(file, {
      mode: "all-errors",
      onRow: (row, req, li) => rows.push(JSON.stringify([req, li, row])),
    });
    return JSON.stringify({ messages: r.messages, rows: r.rows, lines: r.lines, rowsSeen: rows });
  } finally {
    delete process.env.MOE_PROF_PARQUET_READER;
  }
}

test("the fixtures cover what other writers do", () => {
  assert.deepEqual(files, [
    "duckdb-snappy.parquet",
    "polars-zstd.parquet",
    "pyarrow-nulls-plain.parquet",
    "pyarrow-struct.parquet",
    "pyarrow-v2-pages.parquet",
  ]);
});

for (const f of files) {
  test(`${f}: moe-prof's reader gives hyparquet's rows, or declines before any row`, async () => {
    const file = path.join(OTHERS, f);
    const ours = await ourValues(file);
    if (f === "pyarrow-struct.parquet") {
      assert.equal(ours, null, "a struct column is left to hyparquet");
    } else {
      assert.notEqual(ours, null, "taken by moe-prof's reader");
      assert.deepEqual(ours, await hyparquetValues(file));
    }
    assert.equal(await scanWith(file, "ours"), await scanWith(file, "hyparquet"));
  });
}

test("the valid files analyse as the JSONL log they were converted from", async () => {
  const want = (await analyseRoutesFile(path.join(FIXTURES, "full-schema.jsonl"), { threads: 1 })).summary;
  for (const f of files.filter((x) => !x.includes("nulls"))) {
    const got = (await analyseRoutesFile(path.join(OTHERS, f), { threads: 1 })).summary;
    assert.deepEqual({ ...got, source: null }, { ...want, source: null }, f);
  }
});

test("nulls, empty and null lists, a second meta row: worded by the scan, as for the JSONL", async () => {
  const r = await scanRoutesFile(path.join(OTHERS, "pyarrow-nulls-plain.parquet"), { mode: "all-errors" });
  assert.deepEqual(
    r.messages.map((m) => m.replace(/^.*?: /, "")),
    [
      "row 4: topk_ids[1]: must be an integer",
      "row 5: topk_weights: missing",
      "row 6: topk_ids: must have top_k = 2 entries",
      "row 7: type: a second meta line: the meta line must appear once, on line 1",
      'layer 3: missing row req_id "a", token_idx 1, present in other layers',
    ],
  );
});

test("on threads: a Parquet log's row groups are split across threads and analyse as on one", async () => {
  for (const f of ["polars-zstd.parquet", "pyarrow-v2-pages.parquet"]) {
    const file = path.join(OTHERS, f);
    const plan = await parallelPlan(file, 2, 0);
    assert.ok(plan !== null && plan.parquet && plan.ranges.length === 2, f);
    assert.equal(plan.ranges[0]!.start, 0);
    assert.equal(plan.ranges[1]!.end, f.startsWith("polars") ? 4 : 3);
    const parallel = await analyseInParallel(file, { threads: 2, parallelMinBytes: 0 });
    assert.notEqual(parallel, null, `${f}: the parallel path vouched for it`);
    const one = (await analyseRoutesFile(file, { threads: 1 })).summary;
    assert.deepEqual(parallel, one, f);
  }
});

test("on threads: a row repeated in another row group sends the log to the sequential scan, which words it", async () => {
  const file = path.join(tempDir(), "dup.parquet");
  const meta = { ...META, layers_logged: [0], top_k: 2, num_experts: 6 };
  const w = new ParquetRouteWriter(file, 2, JSON.stringify(meta), 2);
  for (const t of [0, 1, 2, 0])
    w.add({ req_id: "a", token_idx: t, layer: 0, topk_ids: [0, 1], topk_weights: [0.5, 0.5] });
  w.finish();
  assert.equal((await parallelPlan(file, 2, 0))?.ranges.length, 2);
  assert.equal(await analyseInParallel(file, { threads: 2, parallelMinBytes: 0 }), null);
  await assert.rejects(
    analyseRoutesFile(file, { threads: 2, parallelMinBytes: 0 }),
    /row 4: duplicate row: req_id "a", token_idx 0, layer 0/,
  );
});
