// export --format parquet --compression zstd|gzip|none (zstd by default): each file says its codec,
// is read back by moe-prof's own reader and by hyparquet row for row as the JSONL log, and is
// analysed as the JSONL log is; Parquet files pyarrow wrote with zstd or gzip are read too.
import { test } from "node:test";
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { runExport } from "../src/commands/export/index.js";
import { readRoutesParquet } from "../src/routes/parquet-routes.js";
import { scanRoutesFile } from "../src/routes/scan.js";
import { analyseRoutesFile } from "../src/log-scan/analyse-routes.js";
import { writeSynthRoutes, DEFAULT_SYNTH } from "../scripts/synth-routes.js";
import { CLI, FIXTURES, tempDir } from "./helpers.js";

const cli = (args: string[]) => execa(process.execPath, [CLI, ...args], { reject: false });

function synth(): string {
  const f = path.join(tempDir(), "moe_routes.jsonl");
  writeSynthRoutes(f, { ...DEFAULT_SYNTH, seed: 4, requests: 6, batch: 3, layers: 4, experts: 16 });
  return f;
}

async function codecOf(file: string): Promise<string[]> {
  const { asyncBufferFromFile, parquetMetadataAsync } = await import("hyparquet");
  const md = await parquetMetadataAsync(await asyncBufferFromFile(file));
  return [...new Set(md.row_groups.flatMap((g) => g.columns.map((c) => c.meta_data!.codec)))];
}

/** Every accepted row as the scan hands it on, and the scan's verdict (reader chosen by env). */
async function rowsOf(file: string, reader: "plain" | "hyparquet"): Promise<string> {
  if (reader === "hyparquet") process.env.MOE_PROF_PARQUET_READER = "hyparquet";
  try {
    const got: string[] = [];
    const r = await scanRoutesFile(file, {
      onRow: (x) =>
        got.push(
          JSON.stringify([x.req_id, x.token_idx, x.layer, x.topk_ids, x.topk_weights, x.phase, x.token_id, x.step]),
        ),
    });
    assert.equal(r.problemCount, 0, r.messages[0]);
    return got.join("\n");
  } finally {
    delete process.env.MOE_PROF_PARQUET_READER;
  }
}

test("each codec is written as asked, read back by both readers row for row as the JSONL, analysed alike", async () => {
  const log = synth();
  const jsonlRows = await rowsOf(log, "plain");
  const want = (await analyseRoutesFile(log, { threads: 1 })).summary;
  const sizes: Record<string, number> = {};
  for (const [compression, codec] of [
    [undefined, "ZSTD"],
    ["zstd", "ZSTD"],
    ["gzip", "GZIP"],
    ["none", "UNCOMPRESSED"],
  ] as const) {
    const out = path.join(tempDir(), "routes.parquet");
    const m = await runExport(log, { format: "parquet", out, compression });
    assert.equal(m.details.compression, compression ?? "zstd");
    assert.deepEqual(await codecOf(out), [codec]);
    sizes[compression ?? "default"] = statSync(out).size;
    assert.notEqual(await readRoutesParquet(out, { value: () => undefined, stopped: false }), null, codec);
    assert.equal(await rowsOf(out, "plain"), jsonlRows, `${codec}: plain reader`);
    assert.equal(await rowsOf(out, "hyparquet"), jsonlRows, `${codec}: hyparquet`);
    const got = (await analyseRoutesFile(out, { threads: 1 })).summary;
    assert.deepEqual({ ...got, source: null }, { ...want, source: null });
  }
  assert.ok(sizes.zstd! * 3 < sizes.none!, JSON.stringify(sizes));
  assert.ok(sizes.gzip! * 3 < sizes.none!, JSON.stringify(sizes));
});

test("--compression: unknown codec, or a format without it, is a usage error", async () => {
  const log = path.join(FIXTURES, "full-schema.jsonl");
  const out = tempDir();
  const a = await cli(["export", log, "--format", "parquet", "--compression", "lz4", "--out", out]);
  assert.equal(a.exitCode, 2);
  assert.match(a.stderr, /--compression: unknown "lz4" \(expected zstd, gzip, none\)/);
  const b = await cli(["export", log, "--format", "eplb", "--compression", "gzip", "--out", out]);
  assert.equal(b.exitCode, 2);
  assert.match(b.stderr, /--compression: only with --format parquet \(not eplb\)/);
});

test("Parquet files pyarrow 26 wrote with zstd and with gzip are read as the JSONL they came from", async () => {
  const log = path.join(FIXTURES, "full-schema.jsonl");
  const want = (await analyseRoutesFile(log, { threads: 1 })).summary;
  for (const codec of ["zstd", "gzip"]) {
    const file = path.join(FIXTURES, `full-schema.pyarrow-${codec}.parquet`);
    const got = (await analyseRoutesFile(file, { threads: 1 })).summary;
    assert.deepEqual({ ...got, source: null }, { ...want, source: null }, codec);
  }
});
