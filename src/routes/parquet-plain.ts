// The fast path for Parquet routes logs that moe-prof itself wrote (the capture's writer and
// `export --format parquet`): uncompressed or compressed pages (parquet-codecs.ts), PLAIN values, RLE/bit-packed levels, one data page per
// column chunk, the routes schema. Such a file is read straight from its bytes, at several times
// hyparquet's speed; any other file (another writer, compression, dictionaries, other columns)
// returns null before a row is handed on, and parquet-read.ts reads it with hyparquet. Rows are
// handed on as the same values hyparquet gives (test/parquet.test.ts compares the two readers).
import { open, type FileHandle } from "node:fs/promises";
import type { decompressPage as DecompressPage } from "./parquet-codecs.js";

/** parquet.thrift CompressionCodec ids read here (parquet-codecs.ts, loaded only for a compressed file). */
const UNCOMPRESSED = 0;
const CODECS_READ = [UNCOMPRESSED, 1 /* SNAPPY */, 2 /* GZIP */, 6 /* ZSTD */];

type Thrift = Map<number, unknown>;

/** Thrift compact protocol: a struct at pos -> (fields by id, end). */
function thrift(b: Buffer, pos: number): [Thrift, number] {
  const varint = (): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const x = b[pos++]!;
      v += (x & 0x7f) * mul;
      if (x < 0x80) return v;
      mul *= 128;
    }
  };
  const zz = (v: number) => (v % 2 === 0 ? v / 2 : -(v + 1) / 2);
  const value = (t: number): unknown => {
    switch (t) {
      case 1:
        return true;
      case 2:
        return false;
      case 3:
        return b[pos++];
      case 4:
      case 5:
      case 6:
        return zz(varint());
      case 7:
        pos += 8;
        return null;
      case 8: {
        const n = varint();
        const s = b.subarray(pos, pos + n);
        pos += n;
        return s;
      }
      case 9:
      case 10: {
        const h = b[pos++]!;
        let n = h >> 4;
        if (n === 15) n = varint();
        const out: unknown[] = [];
        for (let i = 0; i < n; i++) out.push(value(h & 0x0f));
        return out;
      }
      case 12: {
        const [s, end] = thrift(b, pos);
        pos = end;
        return s;
      }
      default:
        throw new Error(`thrift type ${t}`);
    }
  };
  const out: Thrift = new Map();
  let id = 0;
  for (;;) {
    const h = b[pos++]!;
    if (h === 0) return [out, pos];
    const d = h >> 4;
    id = d !== 0 ? id + d : zz(varint());
    out.set(id, value(h & 0x0f));
  }
}

const str = (x: unknown) => (x instanceof Buffer ? x.toString("utf8") : "");

/** Our schema, as (name, physical type | null for groups, repetition). */
function isRoutesSchema(schema: Thrift[]): "float" | "double" | null {
  const want: [string, number | null, number][] = [
    ["schema", null, 0],
    ["req_id", 6, 0],
    ["token_idx", 2, 0],
    ["layer", 1, 0],
    ["topk_ids", null, 0],
    ["list", null, 2],
    ["element", 1, 0],
    ["topk_weights", null, 0],
    ["list", null, 2],
    ["element", -1, 0],
    ["phase", 6, 1],
    ["token_id", 2, 1],
    ["step", 2, 1],
  ];
  if (schema.length !== want.length) return null;
  let weights: "float" | "double" | null = null;
  for (let i = 0; i < want.length; i++) {
    const [name, type, rep] = want[i]!;
    const el = schema[i]!;
    if (str(el.get(4)) !== name) return null;
    if (i > 0 && (el.get(3) ?? 0) !== rep) return null;
    const t = el.get(1) as number | undefined;
    if (type === -1) {
      if (t === 4) weights = "float";
      else if (t === 5) weights = "double";
      else return null;
    } else if ((type ?? undefined) !== t) return null;
  }
  return weights;
}

/** 0/1 levels in the RLE/bit-packed hybrid with a 4-byte length prefix at pos: the levels and the end. */
function levels(b: Buffer, pos: number, count: number): [Uint8Array, number] | null {
  const len = b.readUInt32LE(pos);
  let p = pos + 4;
  const end = p + len;
  const out = new Uint8Array(count);
  let n = 0;
  while (p < end && n < count) {
    let h = 0;
    let mul = 1;
    for (;;) {
      const x = b[p++]!;
      h += (x & 0x7f) * mul;
      if (x < 0x80) break;
      mul *= 128;
    }
    if (h % 2 === 1) {
      const groups = (h - 1) / 2;
      for (let g = 0; g < groups; g++) {
        const byte = b[p++]!;
        for (let j = 0; j < 8 && n < count; j++) out[n++] = (byte >> j) & 1;
      }
    } else {
      const run = h / 2;
      const v = b[p++]!;
      if (v > 1) return null;
      out.fill(v, n, Math.min(count, n + run));
      n = Math.min(count, n + run);
    }
  }
  return n === count ? [out, end] : null;
}

interface Chunk {
  name: string;
  numValues: number;
  offset: number;
  size: number;
  codec: number;
}

/** The row groups' column chunks, if every one is a single PLAIN page of a codec read here; else null. */
function plainChunks(fmd: Thrift): { rows: number; chunks: Map<string, Chunk> }[] | null {
  const groups: { rows: number; chunks: Map<string, Chunk> }[] = [];
  for (const rg of (fmd.get(4) as Thrift[] | undefined) ?? []) {
    const chunks = new Map<string, Chunk>();
    for (const cc of (rg.get(1) as Thrift[]) ?? []) {
      const md = cc.get(3) as Thrift | undefined;
      if (!md || cc.get(1) !== undefined) return null; // metadata elsewhere, or another file
      const codec = md.get(4) as number;
      if (!CODECS_READ.includes(codec)) return null; // another codec: hyparquet says
      const encodings = (md.get(2) as number[]) ?? [];
      if (encodings.some((e) => e !== 0 && e !== 3)) return null; // dictionary etc.
      if (md.get(11) !== undefined) return null; // a dictionary page
      const path = ((md.get(3) as Buffer[]) ?? []).map(str);
      chunks.set(path[0]!, {
        name: path[0]!,
        numValues: md.get(5) as number,
        offset: md.get(9) as number,
        size: md.get(7) as number,
        codec,
      });
    }
    if (chunks.size !== 8) return null;
    groups.push({ rows: rg.get(3) as number, chunks });
  }
  return groups;
}

export interface PlainRowSink {
  value(value: unknown, lineNo: number): void;
  readonly stopped: boolean;
}

/**
 * Reads a Parquet routes log in moe-prof's plain layout into the sink (meta as line 1, row r as
 * line r + 2), or returns null, having handed on nothing, when the file is not in that layout.
 */
export async function readPlainRoutesParquet(
  file: string,
  sink: PlainRowSink,
): Promise<{ lines: number; bytes: number } | null> {
  let fh: FileHandle;
  try {
    fh = await open(file, "r");
  } catch {
    return null;
  }
  try {
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
      fmd = thrift(footer, 0)[0];
    } catch {
      return null;
    }
    const weights = isRoutesSchema((fmd.get(2) as Thrift[]) ?? []);
    const kv = ((fmd.get(5) as Thrift[]) ?? []).find((x) => str(x.get(1)) === "moe_prof.meta");
    const groups = plainChunks(fmd);
    if (weights === null || kv === undefined || groups === null) return null;
    let meta: unknown;
    try {
      meta = JSON.parse(str(kv.get(2)));
    } catch {
      return null;
    }
    // Every page header is checked before any row is handed on: a surprise later would be too late.
    const pages: { data: [number, number]; numValues: number; codec: number; size: number }[][] = [];
    for (const g of groups) {
      const ps: { data: [number, number]; numValues: number; codec: number; size: number }[] = [];
      for (const name of ["req_id", "token_idx", "layer", "topk_ids", "topk_weights", "phase", "token_id", "step"]) {
        const c = g.chunks.get(name);
        if (!c) return null;
        const head = Buffer.alloc(Math.min(256, c.size));
        await fh.read(head, 0, head.length, c.offset);
        let ph: Thrift;
        let hlen: number;
        try {
          [ph, hlen] = thrift(head, 0);
        } catch {
          return null;
        }
        const dph = ph.get(5) as Thrift | undefined;
        // Field 2: the page's size uncompressed, 3: as stored.
        if (ph.get(1) !== 0 || !dph || hlen + (ph.get(3) as number) !== c.size) return null;
        if (c.codec === UNCOMPRESSED && ph.get(2) !== ph.get(3)) return null;
        if (dph.get(2) !== 0 || dph.get(1) !== c.numValues) return null;
        ps.push({
          data: [c.offset + hlen, ph.get(3) as number],
          numValues: c.numValues,
          codec: c.codec,
          size: ph.get(2) as number,
        });
      }
      pages.push(ps);
    }
    let decompress: typeof DecompressPage | null = null;
    if (pages.some((ps) => ps.some((p) => p.codec !== UNCOMPRESSED)))
      decompress = (await import("./parquet-codecs.js")).decompressPage;
    sink.value(meta, 1);
    let lineNo = 1;
    for (let gi = 0; gi < groups.length && !sink.stopped; gi++) {
      const n = groups[gi]!.rows;
      const col = async (i: number) => {
        const pg = pages[gi]![i]!;
        const [off, len] = pg.data;
        const b = Buffer.alloc(len);
        await fh.read(b, 0, len, off);
        if (pg.codec === UNCOMPRESSED) return b;
        const raw = decompress!(pg.codec, b, pg.size);
        return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength) as Buffer<ArrayBuffer>;
      };
      const [reqB, tokB, layB, idsB, wB, phB, tidB, stepB] = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map(col));
      const reqIds = new Array<string>(n);
      let p = 0;
      let last = Buffer.alloc(0);
      let lastStr = "";
      for (let i = 0; i < n; i++) {
        const len = reqB!.readUInt32LE(p);
        const s = reqB!.subarray(p + 4, p + 4 + len);
        if (!s.equals(last)) {
          last = s;
          lastStr = s.toString("utf8");
        }
        reqIds[i] = lastStr;
        p += 4 + len;
      }
      const int64 = (b: Buffer, at: number) => b.readInt32LE(at + 4) * 4294967296 + b.readUInt32LE(at);
      const list = (b: Buffer, numValues: number, w: 4 | 8, float: boolean): number[][] | null => {
        const rep = levels(b, 0, numValues);
        if (!rep) return null;
        const def = levels(b, rep[1], numValues);
        if (!def) return null;
        let v = def[1];
        const out: number[][] = [];
        for (let i = 0; i < numValues; i++) {
          if (rep[0][i] === 0) out.push([]);
          if (def[0][i] === 1) {
            out[out.length - 1]!.push(w === 4 ? (float ? b.readFloatLE(v) : b.readInt32LE(v)) : b.readDoubleLE(v));
            v += w;
          }
        }
        return out;
      };
      const ids = list(idsB!, pages[gi]![3]!.numValues, 4, false);
      const ws = list(wB!, pages[gi]![4]!.numValues, weights === "float" ? 4 : 8, true);
      const phase = levels(phB!, 0, n);
      const tid = levels(tidB!, 0, n);
      const step = levels(stepB!, 0, n);
      if (!ids || !ws || ids.length !== n || ws.length !== n || !phase || !tid || !step) {
        throw new Error(`row group ${gi + 1}: levels do not match its ${n} rows`);
      }
      let pp = phase[1];
      let tp = tid[1];
      let sp = step[1];
      for (let i = 0; i < n; i++) {
        const o: Record<string, unknown> = {
          type: "route",
          req_id: reqIds[i],
          token_idx: int64(tokB!, 8 * i),
          layer: layB!.readInt32LE(4 * i),
          topk_ids: ids[i],
          topk_weights: ws[i],
        };
        if (phase[0][i]) {
          const len = phB!.readUInt32LE(pp);
          o.phase = phB!.toString("utf8", pp + 4, pp + 4 + len);
          pp += 4 + len;
        }
        if (tid[0][i]) {
          o.token_id = int64(tidB!, tp);
          tp += 8;
        }
        if (step[0][i]) {
          o.step = int64(stepB!, sp);
          sp += 8;
        }
        lineNo++;
        sink.value(o, lineNo);
        if (sink.stopped) break;
      }
    }
    return { lines: lineNo, bytes: size };
  } finally {
    await fh.close();
  }
}
