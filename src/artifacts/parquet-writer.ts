// A Parquet file of route rows, written as they stream past: the same columns as the capture's
// Parquet writer (python/moe_prof/capture/parquet.py) with the plainest encodings every reader
// takes (PLAIN values, RLE/bit-packed levels, data page v1; each page compressed by the chosen
// codec, parquet-compression.ts, or not at all). Rows are buffered
// per row group (ROW_GROUP_ROWS rows: bounded memory) and appended to the file; the footer is
// written by finish(). No dependency: the format's metadata is Thrift compact protocol, encoded here.
import { openSync, writeSync, closeSync } from "node:fs";
import { UNCOMPRESSED, type PageCompressor } from "./parquet-compression.js";

export const ROW_GROUP_ROWS = 65_536;

// parquet.thrift enums
const INT32 = 1;
const INT64 = 2;
const DOUBLE = 5;
const BYTE_ARRAY = 6;
const REQUIRED = 0;
const OPTIONAL = 1;
const REPEATED = 2;
const UTF8 = 0;
const LIST = 3;
const PLAIN = 0;
const RLE = 3;
// Thrift compact type ids
const T_I32 = 5;
const T_I64 = 6;
const T_BINARY = 8;
const T_LIST = 9;
const T_STRUCT = 12;

class Bytes {
  buf = Buffer.alloc(1 << 16);
  len = 0;
  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const b = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(b, 0, 0, this.len);
    this.buf = b;
  }
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v, this.len);
    this.len += 4;
  }
  /** Unsigned LEB128 of a non-negative integer below 2^53. */
  varint(v: number): void {
    while (v >= 0x80) {
      this.byte((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.byte(v);
  }
  view(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

/** Zigzag of a safe integer, as a non-negative number (Thrift's i32/i64 in compact protocol). */
const zigzag = (v: number) => (v >= 0 ? 2 * v : -2 * v - 1);

type Field = [id: number, type: number, write: (b: Bytes) => void];

/** A Thrift compact struct: fields in increasing id order, then a stop byte. */
function struct(fields: (Field | null)[]): (b: Bytes) => void {
  return (b) => {
    let last = 0;
    for (const f of fields) {
      if (f === null) continue;
      const [id, type, write] = f;
      const d = id - last;
      if (d > 0 && d <= 15) b.byte((d << 4) | type);
      else {
        b.byte(type);
        b.varint(zigzag(id));
      }
      last = id;
      write(b);
    }
    b.byte(0);
  };
}
const i32 = (id: number, v: number): Field => [id, T_I32, (b) => b.varint(zigzag(v))];
const i64 = (id: number, v: number): Field => [id, T_I64, (b) => b.varint(zigzag(v))];
const str = (id: number, v: string): Field => [
  id,
  T_BINARY,
  (b) => {
    const x = Buffer.from(v, "utf8");
    b.varint(x.length);
    b.bytes(x);
  },
];
const sub = (id: number, s: (b: Bytes) => void): Field => [id, T_STRUCT, s];
function list(id: number, etype: number, items: ((b: Bytes) => void)[]): Field {
  return [
    id,
    T_LIST,
    (b) => {
      if (items.length < 15) b.byte((items.length << 4) | etype);
      else {
        b.byte(0xf0 | etype);
        b.varint(items.length);
      }
      for (const w of items) w(b);
    },
  ];
}
const listI32 = (id: number, xs: number[]) =>
  list(
    id,
    T_I32,
    xs.map((x) => (b: Bytes) => b.varint(zigzag(x))),
  );
const listStr = (id: number, xs: string[]) =>
  list(
    id,
    T_BINARY,
    xs.map((x) => (b: Bytes) => {
      const v = Buffer.from(x, "utf8");
      b.varint(v.length);
      b.bytes(v);
    }),
  );

interface ColumnDesc {
  path: string[];
  type: number;
}
const COLUMNS: ColumnDesc[] = [
  { path: ["req_id"], type: BYTE_ARRAY },
  { path: ["token_idx"], type: INT64 },
  { path: ["layer"], type: INT32 },
  { path: ["topk_ids", "list", "element"], type: INT32 },
  { path: ["topk_weights", "list", "element"], type: DOUBLE },
  { path: ["phase"], type: BYTE_ARRAY },
  { path: ["token_id"], type: INT64 },
  { path: ["step"], type: INT64 },
];

function schemaElements(): ((b: Bytes) => void)[] {
  const el = (
    name: string,
    o: { type?: number; rep?: number; children?: number; converted?: number; logical?: number },
  ) =>
    struct([
      o.type !== undefined ? i32(1, o.type) : null,
      i32(3, o.rep ?? REQUIRED),
      str(4, name),
      o.children !== undefined ? i32(5, o.children) : null,
      o.converted !== undefined ? i32(6, o.converted) : null,
      // LogicalType union: 1 STRING, 3 LIST (empty structs)
      o.logical !== undefined ? sub(10, struct([sub(o.logical, struct([]))])) : null,
    ]);
  return [
    el("schema", { children: 8 }),
    el("req_id", { type: BYTE_ARRAY, converted: UTF8, logical: 1 }),
    el("token_idx", { type: INT64 }),
    el("layer", { type: INT32 }),
    el("topk_ids", { children: 1, converted: LIST, logical: 3 }),
    el("list", { rep: REPEATED, children: 1 }),
    el("element", { type: INT32 }),
    el("topk_weights", { children: 1, converted: LIST, logical: 3 }),
    el("list", { rep: REPEATED, children: 1 }),
    el("element", { type: DOUBLE }),
    el("phase", { type: BYTE_ARRAY, rep: OPTIONAL, converted: UTF8, logical: 1 }),
    el("token_id", { type: INT64, rep: OPTIONAL }),
    el("step", { type: INT64, rep: OPTIONAL }),
  ];
}

/** 0/1 levels (bit width 1) in the RLE/bit-packed hybrid, prefixed by their byte length. */
function levels(out: Bytes, bits: Uint8Array): void {
  const body = new Bytes();
  const n = bits.length;
  let same = true;
  for (let i = 1; i < n && same; i++) same = bits[i] === bits[0];
  if (n === 0) {
    // nothing
  } else if (same) {
    body.varint(n * 2);
    body.byte(bits[0]!);
  } else {
    const groups = Math.ceil(n / 8);
    body.varint(groups * 2 + 1);
    const packed = new Uint8Array(groups);
    for (let i = 0; i < n; i++) if (bits[i]) packed[i >> 3]! |= 1 << (i & 7);
    body.bytes(packed);
  }
  out.u32(body.len);
  out.bytes(body.view());
}

/** One route row as the writer takes it (strings and numbers as the scan accepted them). */
export interface ParquetRouteRow {
  req_id: string;
  token_idx: number;
  layer: number;
  topk_ids: readonly number[];
  topk_weights: readonly number[];
  phase?: string | undefined;
  token_id?: number | undefined;
  step?: number | undefined;
}

export class ParquetRouteWriter {
  private readonly fd: number;
  private offset = 0;
  private readonly rowGroups: ((b: Bytes) => void)[] = [];
  private numRows = 0;
  private n = 0;
  private req = new Bytes();
  private phase = new Bytes();
  private readonly tokenIdx: Float64Array;
  private readonly layer: Int32Array;
  private readonly ids: Int32Array;
  private readonly weights: Float64Array;
  private readonly phasePresent: Uint8Array;
  private readonly tokenId: Float64Array;
  private readonly tokenIdPresent: Uint8Array;
  private readonly stepV: Float64Array;
  private readonly stepPresent: Uint8Array;
  private lastReq = "";
  private lastReqBytes = Buffer.alloc(0);

  /** Starts the file (magic bytes) at `path`; k = top_k; metaLine: the JSONL meta line. */
  constructor(
    path: string,
    private readonly k: number,
    private readonly metaLine: string,
    private readonly groupRows = ROW_GROUP_ROWS,
    private readonly compressor: PageCompressor = UNCOMPRESSED,
  ) {
    this.fd = openSync(path, "w");
    this.write(Buffer.from("PAR1"));
    const n = groupRows;
    this.tokenIdx = new Float64Array(n);
    this.layer = new Int32Array(n);
    this.ids = new Int32Array(n * k);
    this.weights = new Float64Array(n * k);
    this.phasePresent = new Uint8Array(n);
    this.tokenId = new Float64Array(n);
    this.tokenIdPresent = new Uint8Array(n);
    this.stepV = new Float64Array(n);
    this.stepPresent = new Uint8Array(n);
  }

  private write(b: Uint8Array): void {
    let done = 0;
    while (done < b.length) done += writeSync(this.fd, b, done, b.length - done);
    this.offset += b.length;
  }

  add(row: ParquetRouteRow): void {
    const i = this.n;
    const k = this.k;
    if (row.req_id !== this.lastReq || this.lastReqBytes.length === 0) {
      this.lastReq = row.req_id;
      this.lastReqBytes = Buffer.from(row.req_id, "utf8");
    }
    this.req.u32(this.lastReqBytes.length);
    this.req.bytes(this.lastReqBytes);
    this.tokenIdx[i] = row.token_idx;
    this.layer[i] = row.layer;
    for (let j = 0; j < k; j++) {
      this.ids[i * k + j] = row.topk_ids[j]!;
      this.weights[i * k + j] = row.topk_weights[j]!;
    }
    if (row.phase !== undefined) {
      const p = Buffer.from(row.phase, "utf8");
      this.phase.u32(p.length);
      this.phase.bytes(p);
      this.phasePresent[i] = 1;
    } else this.phasePresent[i] = 0;
    this.tokenIdPresent[i] = row.token_id === undefined ? 0 : 1;
    this.tokenId[i] = row.token_id ?? 0;
    this.stepPresent[i] = row.step === undefined ? 0 : 1;
    this.stepV[i] = row.step ?? 0;
    if (++this.n === this.groupRows) this.flushGroup();
  }

  private flushGroup(): void {
    const n = this.n;
    if (n === 0) return;
    const k = this.k;
    const int64s = (vals: Float64Array, present: Uint8Array | null): Buffer => {
      const out = Buffer.alloc(8 * n);
      let m = 0;
      for (let i = 0; i < n; i++) {
        if (present && !present[i]) continue;
        const v = vals[i]!;
        out.writeUInt32LE(v % 0x100000000, 8 * m);
        out.writeUInt32LE(Math.floor(v / 0x100000000), 8 * m + 4);
        m++;
      }
      return out.subarray(0, 8 * m);
    };
    const listLevels = new Bytes();
    const rep = new Uint8Array(n * k);
    for (let i = 0; i < n; i++) for (let j = 1; j < k; j++) rep[i * k + j] = 1;
    levels(listLevels, rep);
    levels(listLevels, new Uint8Array(n * k).fill(1));
    const page = (parts: (Uint8Array | ((b: Bytes) => void))[]): Buffer => {
      const b = new Bytes();
      for (const p of parts)
        if (typeof p === "function") p(b);
        else b.bytes(p);
      return Buffer.from(b.view());
    };
    const pages: [ColumnDesc, number, Buffer][] = [
      [COLUMNS[0]!, n, Buffer.from(this.req.view())],
      [COLUMNS[1]!, n, int64s(this.tokenIdx, null)],
      [COLUMNS[2]!, n, Buffer.from(this.layer.buffer, 0, 4 * n)],
      [COLUMNS[3]!, n * k, page([listLevels.view(), new Uint8Array(this.ids.buffer, 0, 4 * n * k)])],
      [COLUMNS[4]!, n * k, page([listLevels.view(), new Uint8Array(this.weights.buffer, 0, 8 * n * k)])],
      [COLUMNS[5]!, n, page([(b) => levels(b, this.phasePresent.subarray(0, n)), this.phase.view()])],
      [
        COLUMNS[6]!,
        n,
        page([(b) => levels(b, this.tokenIdPresent.subarray(0, n)), int64s(this.tokenId, this.tokenIdPresent)]),
      ],
      [COLUMNS[7]!, n, page([(b) => levels(b, this.stepPresent.subarray(0, n)), int64s(this.stepV, this.stepPresent)])],
    ];
    const start = this.offset;
    const chunks: ((b: Bytes) => void)[] = [];
    let uncompressed = 0;
    for (const [col, numValues, raw] of pages) {
      const data = this.compressor.compress(raw);
      const h = new Bytes();
      struct([
        i32(1, 0 /* DATA_PAGE */),
        i32(2, raw.length),
        i32(3, data.length),
        sub(5, struct([i32(1, numValues), i32(2, PLAIN), i32(3, RLE), i32(4, RLE)])),
      ])(h);
      const pageOffset = this.offset;
      this.write(h.view());
      this.write(data);
      const size = h.len + data.length;
      uncompressed += h.len + raw.length;
      const meta = struct([
        i32(1, col.type),
        listI32(2, [PLAIN, RLE]),
        listStr(3, col.path),
        i32(4, this.compressor.codec),
        i64(5, numValues),
        i64(6, h.len + raw.length),
        i64(7, size),
        i64(9, pageOffset),
      ]);
      chunks.push(struct([i64(2, pageOffset), sub(3, meta)]));
    }
    const total = this.offset - start;
    this.rowGroups.push(
      struct([list(1, T_STRUCT, chunks), i64(2, uncompressed), i64(3, n), i64(5, start), i64(6, total)]),
    );
    this.numRows += n;
    this.n = 0;
    this.req = new Bytes();
    this.phase = new Bytes();
  }

  /** Writes what is buffered and the footer, and closes the file (readable only after this). */
  finish(): void {
    this.flushGroup();
    const footer = new Bytes();
    struct([
      i32(1, 1),
      list(2, T_STRUCT, schemaElements()),
      i64(3, this.numRows),
      list(4, T_STRUCT, this.rowGroups),
      list(5, T_STRUCT, [struct([str(1, "moe_prof.meta"), str(2, this.metaLine)])]),
      str(6, "moe-prof export (src/artifacts/parquet-writer.ts)"),
    ])(footer);
    this.write(footer.view());
    const tail = Buffer.alloc(8);
    tail.writeUInt32LE(footer.len, 0);
    tail.write("PAR1", 4, "latin1");
    this.write(tail);
    closeSync(this.fd);
  }

  /** Closes the file without a footer (after an error; the caller removes it). */
  abandon(): void {
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
  }
}
