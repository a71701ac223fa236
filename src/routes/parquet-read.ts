// A routes log as a Parquet file (what `moe-prof export --format parquet` and the capture's
// VLLM_LOG_MOE_FORMAT=parquet write; or any writer of the same columns): its rows handed to the
// scan as the values JSON.parse would give for the same JSONL lines, so that every rule and
// message is the scan's own. Read from its bytes by parquet-routes.ts when it takes the file
// (every writer's scalar and list columns); otherwise with hyparquet (pure JavaScript, any
// encoding and codec, structs and maps).
//
// The meta line is the file's key-value metadata `moe_prof.meta` (a JSON object with "type":
// "meta"). Row r (0-based) is handed as line r + 2, as if the meta line were line 1; the scan
// reports it as "row r + 1". Memory through hyparquet: one slice of rows at a time (a row group,
// or 256k rows of a larger one), as plain objects.
import { readRoutesParquet, withFileForReading, PARQUET_META_KEY } from "./parquet-routes.js";
import type { PlaceProblem } from "../problems.js";

export { PARQUET_META_KEY };

/** Problems on "line" 1 are the meta's (named by its key); on "line" n >= 2, row n - 1's. */
export const parquetPlace: PlaceProblem = (line, field) =>
  line === 1
    ? { line: null, field: field === null ? PARQUET_META_KEY : `${PARQUET_META_KEY} ${field}` }
    : { line: line - 1, field, row: true };
const MAGIC = Buffer.from("PAR1");
/** Rows turned into objects at a time: bounds memory for files with very large row groups. */
const SLICE_ROWS = 262_144;

/** True when the file starts with Parquet's magic bytes (a JSONL log starts with "{"). */
export async function isParquetFile(file: string): Promise<boolean> {
  const magic = await withFileForReading(file, async (fh) => {
    const b = Buffer.alloc(4);
    const { bytesRead } = await fh.read(b, 0, 4, 0);
    return bytesRead === 4 && b.equals(MAGIC);
  });
  return magic ?? false;
}

export interface ParquetRowSink {
  /** The meta object (lineNo 1) and each row's value (lineNo = row + 2). */
  value(value: unknown, lineNo: number): void;
  /** A problem with the file itself (not a row): unreadable, no meta. */
  fileProblem(what: string): void;
  readonly stopped: boolean;
}

/** Parquet values as JSON.parse would give them: int64 (bigint) as numbers, also inside lists and structs. */
function plain(v: unknown): unknown {
  if (typeof v === "bigint") return Number(v);
  if (Array.isArray(v)) return v.map(plain);
  if (ArrayBuffer.isView(v) && !(v instanceof DataView))
    return Array.from(v as unknown as ArrayLike<number | bigint>, plain);
  // a struct column's value: its int64 members too (JSON has no bigint)
  if (typeof v === "object" && v !== null && Object.getPrototypeOf(v) === Object.prototype)
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

function rowValue(row: Record<string, unknown>): Record<string, unknown> {
  // The rows are route rows by construction; a `type` column, if there is one, still decides.
  const o: Record<string, unknown> = { type: "route" };
  for (const key of Object.keys(row)) {
    const v = row[key];
    if (v === null || v === undefined) continue;
    o[key] = plain(v);
  }
  return o;
}

/** Streams the file's rows into the sink. Returns the rows read (+1 for the meta) and the file's size. */
/** MOE_PROF_PARQUET_READER=hyparquet: every Parquet file through hyparquet, on one thread (the
 * tests and scripts/bench-hist compare the readers). */
export function hyparquetForced(): boolean {
  return process.env.MOE_PROF_PARQUET_READER === "hyparquet";
}

export async function readParquetRows(file: string, sink: ParquetRowSink): Promise<{ lines: number; bytes: number }> {
  // Straight from the file's bytes (parquet-routes.ts) when it can; MOE_PROF_PARQUET_READER=hyparquet
  // forces hyparquet (the tests compare the two).
  if (!hyparquetForced()) {
    try {
      const plain = await readRoutesParquet(file, sink);
      if (plain !== null) return plain;
    } catch (e) {
      sink.fileProblem(`not a readable Parquet file (${e instanceof Error ? e.message : String(e)})`);
      return { lines: 0, bytes: 0 };
    }
  }
  const { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } = await import("hyparquet");
  const { HYPARQUET_COMPRESSORS } = await import("./parquet-codecs.js");
  let buffer;
  let metadata;
  try {
    buffer = await asyncBufferFromFile(file);
    metadata = await parquetMetadataAsync(buffer);
  } catch (e) {
    sink.fileProblem(`not a readable Parquet file (${e instanceof Error ? e.message : String(e)})`);
    return { lines: 0, bytes: buffer?.byteLength ?? 0 };
  }
  const bytes = buffer.byteLength;
  const kv = metadata.key_value_metadata?.find((x) => x.key === PARQUET_META_KEY);
  if (kv === undefined || kv.value === undefined) {
    sink.fileProblem(
      `no "${PARQUET_META_KEY}" key-value metadata: a routes log in Parquet carries its meta line there (moe-prof export --format parquet and the capture write it)`,
    );
    return { lines: 0, bytes };
  }
  let meta: unknown;
  try {
    meta = JSON.parse(kv.value);
  } catch {
    sink.fileProblem(`"${PARQUET_META_KEY}" key-value metadata is not valid JSON`);
    return { lines: 0, bytes };
  }
  sink.value(meta, 1);
  let lineNo = 1;
  let start = 0;
  for (const rg of metadata.row_groups) {
    const groupEnd = start + Number(rg.num_rows);
    for (let s = start; s < groupEnd && !sink.stopped; s += SLICE_ROWS) {
      const e = Math.min(groupEnd, s + SLICE_ROWS);
      let rows: Record<string, unknown>[];
      try {
        rows = await parquetReadObjects({
          file: buffer,
          metadata,
          rowStart: s,
          rowEnd: e,
          compressors: HYPARQUET_COMPRESSORS,
        });
      } catch (err) {
        sink.fileProblem(`rows ${s + 1}..${e}: not readable (${err instanceof Error ? err.message : String(err)})`);
        return { lines: lineNo, bytes };
      }
      for (const row of rows) {
        lineNo++;
        sink.value(rowValue(row), lineNo);
        if (sink.stopped) return { lines: lineNo, bytes };
      }
    }
    if (sink.stopped) break;
    start = groupEnd;
  }
  return { lines: lineNo, bytes };
}
