// A Parquet routes log read from its bytes (parquet-columns.ts), whoever wrote it: moe-prof's
// capture and `export`, DuckDB, polars, pyarrow. Every top-level column becomes a key of the row
// (lists of numbers or strings, numbers, strings), as hyparquet would give it and JSON.parse would
// for the same JSONL line: the scan then applies its own rules and messages. A file this reader
// cannot take (a nested struct or map, an encoding or codec or annotation it does not read, no
// `moe_prof.meta`) is answered null before any row goes out, and parquet-read.ts hands it to
// hyparquet. test/parquet-readers.test.ts compares the two row for row on every writer's files.
//
// Why not hyparquet for all: it reads ~170-250k rows/s here and holds whole row groups as objects
// (0.4-1.2 GB for a 460k-row file); this reader decodes a row group into typed arrays and fills
// one reused row object (the same contract as the JSONL fast path's rows).
import { open, type FileHandle } from "node:fs/promises";
import { readThrift, thriftString, type Thrift } from "./parquet-thrift.js";
import { chunkReadable, decodeChunk, PHYSICAL, type DecodedChunk, type Leaf } from "./parquet-columns.js";
import type { decompressPage as DecompressPage } from "./parquet-codecs.js";

export const PARQUET_META_KEY = "moe_prof.meta";

export interface RoutesRowSink {
  /** The meta object (lineNo 1) and each row's value (lineNo = row + 2). */
  value(value: unknown, lineNo: number): void;
  readonly stopped: boolean;
}

/** How one top-level column becomes a row's key. */
interface Field {
  leaf: Leaf;
  /** Its column chunk's index in a row group. */
  column: number;
  list: boolean;
  /** Definition levels below this: the value is null (the key is left out). */
  nullDef: number;
  /** For a list, levels below this (and at least nullDef): an empty list. */
  emptyDef: number;
}

const REPETITION = { REQUIRED: 0, OPTIONAL: 1, REPEATED: 2 } as const;
/** converted_type values whose numbers and strings hyparquet gives as plain numbers and strings:
 * UTF8, LIST (groups), INT_8..INT_64. Any other annotation (dates, decimals, unsigned, JSON) goes to hyparquet. */
const PLAIN_CONVERTED = [0, 3, 15, 16, 17, 18];

function plainAnnotation(el: Thrift): boolean {
  const ct = el.get(6) as number | undefined;
  if (ct !== undefined && !PLAIN_CONVERTED.includes(ct)) return false;
  const lt = el.get(10) as Thrift | undefined;
  if (lt === undefined) return true;
  // LogicalType union: 1 STRING, 3 LIST, 10 INTEGER (signed only)
  if (lt.has(1) || lt.has(3)) return true;
  const int = lt.get(10) as Thrift | undefined;
  return int !== undefined && int.get(2) === true;
}

/** The routes file's top-level columns as fields, or null when one is not a scalar or a list of scalars. */
function fieldsOf(schema: Thrift[]): Field[] | null {
  const fields: Field[] = [];
  let i = 1;
  let column = 0;
  const topCount = (schema[0]?.get(5) as number | undefined) ?? 0;
  for (let t = 0; t < topCount; t++) {
    // follow the field down its single child at each level
    const path: Thrift[] = [];
    for (;;) {
      const el = schema[i++];
      if (el === undefined || !plainAnnotation(el)) return null;
      path.push(el);
      const children = (el.get(5) as number | undefined) ?? 0;
      if (children === 0) break;
      if (children !== 1) return null; // a struct or map: hyparquet
    }
    const leafEl = path[path.length - 1]!;
    const physical = leafEl.get(1) as number;
    if (!Object.values(PHYSICAL).includes(physical as 1)) return null;
    let def = 0;
    let rep = 0;
    let emptyDef = -1;
    for (const el of path) {
      const r = (el.get(3) as number | undefined) ?? REPETITION.REQUIRED;
      if (r !== REPETITION.REQUIRED) def++;
      if (r === REPETITION.REPEATED) {
        rep++;
        emptyDef = def;
      }
    }
    if (rep > 1) return null;
    // Scalars at the top level; lists as `group / repeated group / leaf` (what every writer here
    // makes), `group / repeated leaf` or `repeated leaf`. A struct anywhere: hyparquet.
    const repAt = path.findIndex((el) => el.get(3) === REPETITION.REPEATED);
    const listShape = repAt === path.length - 1 ? path.length <= 2 : path.length === 3 && repAt === 1;
    if (rep === 0 ? path.length !== 1 : !listShape) return null;
    const top = (path[0]!.get(3) as number | undefined) ?? REPETITION.REQUIRED;
    fields.push({
      leaf: { name: thriftString(path[0]!.get(4)), physical, maxDef: def, maxRep: rep },
      column: column++,
      list: rep === 1,
      nullDef: rep === 1 ? (top === REPETITION.OPTIONAL ? 1 : 0) : def,
      emptyDef,
    });
  }
  return fields;
}

interface ChunkAt {
  start: number;
  size: number;
  numValues: number;
  codec: number;
}

/** Where each field's chunk of each row group lies; null when one is elsewhere or not read here. */
function chunksOf(fmd: Thrift, fields: Field[]): { rows: number; chunks: ChunkAt[] }[] | null {
  const groups: { rows: number; chunks: ChunkAt[] }[] = [];
  for (const rg of (fmd.get(4) as Thrift[] | undefined) ?? []) {
    const cols = (rg.get(1) as Thrift[] | undefined) ?? [];
    if (cols.length !== fields.length) return null;
    const chunks: ChunkAt[] = [];
    for (let c = 0; c < cols.length; c++) {
      const md = cols[c]!.get(3) as Thrift | undefined;
      if (!md || cols[c]!.get(1) !== undefined || !chunkReadable(md)) return null;
      const path = ((md.get(3) as Buffer[] | undefined) ?? []).map(thriftString);
      if (path[0] !== fields[c]!.leaf.name) return null;
      const data = md.get(9) as number;
      const dict = md.get(11) as number | undefined;
      // some writers leave dictionary_page_offset at 0 for a chunk without one
      const start = dict !== undefined && dict > 0 && dict < data ? dict : data;
      chunks.push({ start, size: md.get(7) as number, numValues: md.get(5) as number, codec: md.get(4) as number });
    }
    groups.push({ rows: Number(rg.get(3)), chunks });
  }
  return groups;
}

/** A decoded chunk laid out per row: where each row's values (and, for lists, level entries) start. */
interface RowsOf {
  field: Field;
  chunk: DecodedChunk;
  /** Per row: index of its first value; rows + 1 entries. */
  valueAt: Int32Array;
  /** Rows with a null value or, for lists, a null element: built one by one. */
  special: Uint8Array | null;
  /** For lists, per row: its first level entry; rows + 1 entries. */
  entryAt: Int32Array | null;
}

function layOut(field: Field, chunk: DecodedChunk, rows: number): RowsOf {
  const valueAt = new Int32Array(rows + 1);
  const { rep, def } = chunk;
  const max = field.leaf.maxDef;
  let special: Uint8Array | null = null;
  if (!field.list) {
    if (chunk.count !== rows) throw new Error(`column ${field.leaf.name}: ${chunk.count} values for ${rows} rows`);
    let v = 0;
    for (let r = 0; r < rows; r++) {
      valueAt[r] = v;
      if (def === null || def[r] === max) v++;
      else (special ??= new Uint8Array(rows))[r] = 1;
    }
    valueAt[rows] = v;
    return { field, chunk, valueAt, special, entryAt: null };
  }
  const entryAt = new Int32Array(rows + 1);
  let r = -1;
  let v = 0;
  for (let e = 0; e < chunk.count; e++) {
    if (rep![e] === 0) {
      r++;
      if (r >= rows) throw new Error(`column ${field.leaf.name}: more than ${rows} rows`);
      entryAt[r] = e;
      valueAt[r] = v;
    }
    const d = def === null ? max : def[e]!;
    if (d === max) v++;
    else if (d < field.nullDef || d >= field.emptyDef) (special ??= new Uint8Array(rows))[r] = 1;
  }
  if (r !== rows - 1) throw new Error(`column ${field.leaf.name}: ${r + 1} rows, the row group has ${rows}`);
  entryAt[rows] = chunk.count;
  valueAt[rows] = v;
  return { field, chunk, valueAt, special, entryAt };
}

/** Row r's value of a field as hyparquet gives it (null: the key is left out). */
function valueOf(c: RowsOf, r: number): unknown {
  const { chunk, field } = c;
  const at = c.valueAt[r]!;
  const get = (i: number) => (chunk.num !== null ? chunk.num[i]! : chunk.str![i]!);
  if (!field.list) return c.special !== null && c.special[r] === 1 ? null : get(at);
  const e0 = c.entryAt![r]!;
  const e1 = c.entryAt![r + 1]!;
  const d0 = chunk.def === null ? field.leaf.maxDef : chunk.def[e0]!;
  if (d0 < field.nullDef) return null;
  if (d0 < field.emptyDef) return [];
  const out: unknown[] = [];
  let v = at;
  for (let e = e0; e < e1; e++) {
    const d = chunk.def === null ? field.leaf.maxDef : chunk.def[e]!;
    out.push(d === field.leaf.maxDef ? get(v++) : null);
  }
  return out;
}

/** What the footer says, for a file this reader takes. */
export interface RoutesParquetLayout {
  size: number;
  /** The meta line's value (not yet checked). */
  meta: unknown;
  /** Rows per row group. */
  groupRows: number[];
}

interface OpenLayout extends RoutesParquetLayout {
  fields: Field[];
  groups: { rows: number; chunks: ChunkAt[] }[];
}

/** The footer read and checked: null when this reader does not take the file. */
async function readLayout(fh: FileHandle): Promise<OpenLayout | null> {
  const size = (await fh.stat()).size;
  if (size < 12) return null;
  const tail = Buffer.alloc(8);
  await fh.read(tail, 0, 8, size - 8);
  if (tail.toString("latin1", 4) !== "PAR1") return null;
  const flen = tail.readUInt32LE(0);
  if (flen + 12 > size) return null;
  const footer = Buffer.alloc(flen);
  await fh.read(footer, 0, flen, size - 8 - flen);
  let fmd: Thrift;
  try {
    fmd = readThrift(footer, 0)[0];
  } catch {
    return null;
  }
  const fields = fieldsOf((fmd.get(2) as Thrift[] | undefined) ?? []);
  const kv = ((fmd.get(5) as Thrift[] | undefined) ?? []).find((x) => thriftString(x.get(1)) === PARQUET_META_KEY);
  if (fields === null || kv === undefined) return null;
  const groups = chunksOf(fmd, fields);
  if (groups === null) return null;
  let meta: unknown;
  try {
    meta = JSON.parse(thriftString(kv.get(2)));
  } catch {
    return null;
  }
  return { size, meta, groupRows: groups.map((g) => g.rows), fields, groups };
}

/** `use` on the file opened for reading, closed after; null when it cannot be opened (the scan says why). */
export async function withFileForReading<T>(file: string, use: (fh: FileHandle) => Promise<T>): Promise<T | null> {
  let fh: FileHandle;
  try {
    fh = await open(file, "r");
  } catch {
    return null;
  }
  try {
    return await use(fh);
  } finally {
    await fh.close();
  }
}

/** The layout of a Parquet routes log this reader takes (to split it across threads), else null. */
export async function routesParquetLayout(file: string): Promise<RoutesParquetLayout | null> {
  return withFileForReading(file, async (fh) => {
    const l = await readLayout(fh).catch(() => null);
    return l === null ? null : { size: l.size, meta: l.meta, groupRows: l.groupRows };
  });
}

/**
 * Reads a Parquet routes log into the sink (meta as line 1, row r as line r + 2), or returns null,
 * having handed on nothing, when this reader cannot take the file (hyparquet then does). With
 * `groups`, only row groups [start, end) (their rows keep their line numbers in the whole file).
 * A file that turns out damaged after rows went out throws (the caller reports it as the file's problem).
 */
export async function readRoutesParquet(
  file: string,
  sink: RoutesRowSink,
  groupRange?: { start: number; end: number },
): Promise<{ lines: number; bytes: number } | null> {
  return withFileForReading(file, async (fh) => {
    const layout = await readLayout(fh);
    if (layout === null) return null;
    const { fields, groups, size, meta } = layout;
    let decompress: typeof DecompressPage | null = null;
    if (groups.some((g) => g.chunks.some((c) => c.codec !== 0)))
      decompress = (await import("./parquet-codecs.js")).decompressPage;

    sink.value(meta, 1);
    const first = groupRange?.start ?? 0;
    const last = Math.min(groups.length, groupRange?.end ?? groups.length);
    let lineNo = 1;
    for (let gi = 0; gi < first; gi++) lineNo += groups[gi]!.rows;
    const hasType = fields.some((f) => f.leaf.name === "type");
    // The row handed on for rows without nulls: one object, refilled (consumers do not keep rows).
    const reused: Record<string, unknown> = hasType ? {} : { type: "route" };
    // per column, by length: the lists the reused row holds
    const lists: unknown[][][] = fields.map(() => []);
    for (let gi = first; gi < last && !sink.stopped; gi++) {
      const g = groups[gi]!;
      const cols: RowsOf[] = [];
      for (let c = 0; c < fields.length; c++) {
        const at = g.chunks[c]!;
        const bytes = Buffer.alloc(at.size);
        const { bytesRead } = await fh.read(bytes, 0, at.size, at.start);
        if (bytesRead !== at.size)
          throw new Error(`row group ${gi + 1}: column ${fields[c]!.leaf.name} runs past the file`);
        try {
          cols.push(
            layOut(fields[c]!, decodeChunk(bytes, fields[c]!.leaf, at.codec, at.numValues, decompress), g.rows),
          );
        } catch (e) {
          throw new Error(
            `row group ${gi + 1}, column ${fields[c]!.leaf.name}: ${e instanceof Error ? e.message : String(e)}`,
            { cause: e },
          );
        }
      }
      const anySpecial = cols.some((c) => c.special !== null);
      for (let r = 0; r < g.rows; r++) {
        let row: Record<string, unknown>;
        if (anySpecial && cols.some((c) => c.special !== null && c.special[r] === 1)) {
          // a null somewhere: a fresh object with the null keys left out, as hyparquet's rows are read
          row = hasType ? {} : { type: "route" };
          for (const c of cols) {
            const v = valueOf(c, r);
            if (v !== null) row[c.field.leaf.name] = v;
          }
        } else {
          row = reused;
          for (let ci = 0; ci < cols.length; ci++) {
            const c = cols[ci]!;
            const name = c.field.leaf.name;
            const at = c.valueAt[r]!;
            if (!c.field.list) {
              row[name] = c.chunk.num !== null ? c.chunk.num[at] : c.chunk.str![at];
              continue;
            }
            const len = c.valueAt[r + 1]! - at;
            const arr = (lists[ci]![len] ??= new Array<unknown>(len));
            if (c.chunk.num !== null) for (let j = 0; j < len; j++) arr[j] = c.chunk.num[at + j];
            else for (let j = 0; j < len; j++) arr[j] = c.chunk.str![at + j];
            row[name] = arr;
          }
        }
        lineNo++;
        sink.value(row, lineNo);
        if (sink.stopped) break;
      }
    }
    return { lines: lineNo, bytes: size };
  });
}
