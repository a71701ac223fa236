// One Parquet column chunk decoded into flat arrays: its repetition and definition levels and its
// non-null values, numbers as float64 (INT64 exactly up to 2^53, as JSON would give them) and
// byte arrays as strings. Reads what DuckDB, polars, pyarrow and moe-prof's own writers produce:
// data pages v1 and v2, dictionary pages, PLAIN and RLE/PLAIN_DICTIONARY values, RLE/bit-packed
// levels, any number of pages, the codecs of parquet-codecs.ts. `chunkReadable` says beforehand
// (from the footer alone) whether a chunk uses only these, so a reader can hand a file it cannot
// decode to another reader before a row has gone out.
import { readThrift, type Thrift } from "./parquet-thrift.js";
import type { decompressPage as DecompressPage } from "./parquet-codecs.js";

/** parquet.thrift physical types read here. */
export const PHYSICAL = { INT32: 1, INT64: 2, FLOAT: 4, DOUBLE: 5, BYTE_ARRAY: 6 } as const;
const CODECS = [0 /* UNCOMPRESSED */, 1 /* SNAPPY */, 2 /* GZIP */, 6 /* ZSTD */];
/** PLAIN, PLAIN_DICTIONARY, RLE (levels), RLE_DICTIONARY (not the deprecated BIT_PACKED levels). */
const ENCODINGS = [0, 2, 3, 8];

export interface Leaf {
  /** Top-level field name. */
  name: string;
  physical: number;
  maxDef: number;
  maxRep: number;
}

export interface DecodedChunk {
  /** Level entries in the chunk (values and nulls, list elements counted one by one). */
  count: number;
  rep: Uint8Array | null;
  def: Uint8Array | null;
  /** The non-null values in order, for a numeric column. */
  num: Float64Array | null;
  /** The same for a BYTE_ARRAY column. */
  str: string[] | null;
}

/** Whether a column chunk's metadata (ColumnMetaData) names only codecs and encodings read here. */
export function chunkReadable(md: Thrift): boolean {
  if (!CODECS.includes(md.get(4) as number)) return false;
  return ((md.get(2) as number[] | undefined) ?? []).every((e) => ENCODINGS.includes(e));
}

/** Bits needed for levels up to `max`. */
const bitWidth = (max: number) => (max === 0 ? 0 : 32 - Math.clz32(max));

/**
 * The RLE/bit-packed hybrid of `width`-bit values in b[pos, end) into out[at, at + count).
 * Throws when the data holds fewer values.
 */
function hybrid(
  b: Uint8Array,
  pos: number,
  end: number,
  width: number,
  count: number,
  out: Uint8Array | Int32Array,
  at: number,
): void {
  let n = 0;
  const bytes = (width + 7) >> 3;
  while (n < count) {
    if (pos >= end) throw new Error(`levels or indices: ${n} of ${count} values`);
    let h = 0;
    let mul = 1;
    for (;;) {
      const x = b[pos++]!;
      h += (x & 0x7f) * mul;
      if (x < 0x80) break;
      mul *= 128;
    }
    if (h % 2 === 1) {
      // bit-packed: (h >> 1) groups of 8 values, least significant bit first
      const total = Math.floor(h / 2) * 8;
      const take = Math.min(total, count - n);
      if (width <= 24) {
        let acc = 0;
        let bits = 0;
        let p = pos;
        const mask = width === 0 ? 0 : 0xffffffff >>> (32 - width);
        for (let i = 0; i < take; i++) {
          while (bits < width) {
            acc |= b[p++]! << bits;
            bits += 8;
          }
          out[at + n + i] = acc & mask;
          acc >>>= width;
          bits -= width;
        }
      } else {
        for (let i = 0; i < take; i++) {
          let v = 0;
          const bit0 = i * width;
          for (let j = 0; j < width; j++) {
            const bit = bit0 + j;
            if ((b[pos + (bit >> 3)]! >> (bit & 7)) & 1) v += 2 ** j;
          }
          out[at + n + i] = v;
        }
      }
      pos += (total * width) / 8;
      n += take;
    } else {
      let v = 0;
      for (let j = 0; j < bytes; j++) v += b[pos++]! * 2 ** (8 * j);
      const run = Math.min(h / 2, count - n);
      out.fill(v, at + n, at + n + run);
      n += run;
    }
  }
}

/** `count` PLAIN values of a physical type from b at pos, appended to the column's arrays. */
function plain(
  b: Uint8Array,
  pos: number,
  count: number,
  physical: number,
  num: Float64Array,
  str: string[],
  at: number,
) {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  switch (physical) {
    case PHYSICAL.INT32:
      for (let i = 0; i < count; i++) num[at + i] = dv.getInt32(pos + 4 * i, true);
      return;
    case PHYSICAL.INT64:
      for (let i = 0; i < count; i++)
        num[at + i] = dv.getInt32(pos + 8 * i + 4, true) * 4294967296 + dv.getUint32(pos + 8 * i, true);
      return;
    case PHYSICAL.FLOAT:
      for (let i = 0; i < count; i++) num[at + i] = dv.getFloat32(pos + 4 * i, true);
      return;
    case PHYSICAL.DOUBLE:
      for (let i = 0; i < count; i++) num[at + i] = dv.getFloat64(pos + 8 * i, true);
      return;
    case PHYSICAL.BYTE_ARRAY: {
      const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
      // Route logs repeat a request's id row after row: decode a run of equal bytes once.
      let lastS = -1;
      let lastLen = -1;
      let last = "";
      for (let i = 0; i < count; i++) {
        const len = dv.getUint32(pos, true);
        const s = pos + 4;
        if (s + len > b.length) throw new Error("a byte array runs past its page");
        if (len !== lastLen || buf.compare(buf, s, s + len, lastS, lastS + len) !== 0) {
          last = buf.toString("utf8", s, s + len);
          lastS = s;
          lastLen = len;
        }
        str[at + i] = last;
        pos = s + len;
      }
      return;
    }
    default:
      throw new Error(`physical type ${physical} is not read`);
  }
}

/**
 * Decodes a column chunk's bytes (from its first page to its end) holding `numValues` level
 * entries. `decompress` is parquet-codecs.ts's (null when the chunk is uncompressed).
 */
export function decodeChunk(
  bytes: Uint8Array,
  leaf: Leaf,
  codec: number,
  numValues: number,
  decompress: typeof DecompressPage | null,
): DecodedChunk {
  const rep = leaf.maxRep > 0 ? new Uint8Array(numValues) : null;
  const def = leaf.maxDef > 0 ? new Uint8Array(numValues) : null;
  const isStr = leaf.physical === PHYSICAL.BYTE_ARRAY;
  const num = isStr ? null : new Float64Array(numValues);
  const str = isStr ? new Array<string>(numValues) : null;
  let dictNum: Float64Array | null = null;
  let dictStr: string[] | null = null;
  let entries = 0;
  let values = 0;
  let pos = 0;
  let indices = new Int32Array(0);
  const inflate = (data: Uint8Array, size: number) =>
    codec === 0 || decompress === null ? data : decompress(codec, data, size);

  while (entries < numValues) {
    if (pos >= bytes.length) throw new Error(`the pages hold ${entries} of ${numValues} values`);
    const [ph, start] = readThrift(bytes, pos);
    const type = ph.get(1) as number;
    const size = ph.get(2) as number;
    const stored = ph.get(3) as number;
    const body = bytes.subarray(start, start + stored);
    if (body.length !== stored) throw new Error("a page runs past its column chunk");
    pos = start + stored;
    if (type === 2) {
      // DICTIONARY_PAGE: PLAIN values
      const dh = ph.get(7) as Thrift;
      const n = dh.get(1) as number;
      const page = inflate(body, size);
      if (isStr) plain(page, 0, n, leaf.physical, new Float64Array(0), (dictStr = new Array<string>(n)), 0);
      else plain(page, 0, n, leaf.physical, (dictNum = new Float64Array(n)), [], 0);
      continue;
    }
    if (type !== 0 && type !== 3) continue; // an index page: nothing to read here
    let n: number;
    let encoding: number;
    let page: Uint8Array;
    let p = 0;
    if (type === 0) {
      const dh = ph.get(5) as Thrift;
      n = dh.get(1) as number;
      encoding = dh.get(2) as number;
      page = inflate(body, size);
      // v1: each level run is prefixed with its length in 4 bytes
      for (const [levels, max] of [
        [rep, leaf.maxRep],
        [def, leaf.maxDef],
      ] as const) {
        if (levels === null) continue;
        const len = new DataView(page.buffer, page.byteOffset + p, 4).getUint32(0, true);
        hybrid(page, p + 4, p + 4 + len, bitWidth(max), n, levels, entries);
        p += 4 + len;
      }
    } else {
      const dh = ph.get(8) as Thrift;
      n = dh.get(1) as number;
      encoding = dh.get(4) as number;
      const defLen = dh.get(5) as number;
      const repLen = dh.get(6) as number;
      // v2: levels first, never compressed and without length prefixes; then the values
      if (rep !== null) hybrid(body, 0, repLen, bitWidth(leaf.maxRep), n, rep, entries);
      if (def !== null) hybrid(body, repLen, repLen + defLen, bitWidth(leaf.maxDef), n, def, entries);
      const data = body.subarray(repLen + defLen);
      page = dh.get(7) === false ? data : inflate(data, size - repLen - defLen);
    }
    if (entries + n > numValues) throw new Error(`the pages hold more than the chunk's ${numValues} values`);
    let present = n;
    if (def !== null) {
      present = 0;
      for (let i = entries; i < entries + n; i++) if (def[i] === leaf.maxDef) present++;
    }
    if (encoding === 0) {
      plain(page, p, present, leaf.physical, num ?? new Float64Array(0), str ?? [], values);
    } else if (encoding === 2 || encoding === 8) {
      const width = page[p]!;
      if (indices.length < present) indices = new Int32Array(present);
      hybrid(page, p + 1, page.length, width, present, indices, 0);
      if (isStr) {
        if (dictStr === null) throw new Error("dictionary-encoded values without a dictionary page");
        for (let i = 0; i < present; i++) {
          const v = dictStr[indices[i]!];
          if (v === undefined) throw new Error(`dictionary index ${indices[i]} past its ${dictStr.length} values`);
          str![values + i] = v;
        }
      } else {
        if (dictNum === null) throw new Error("dictionary-encoded values without a dictionary page");
        for (let i = 0; i < present; i++) {
          const x = indices[i]!;
          if (x >= dictNum.length) throw new Error(`dictionary index ${x} past its ${dictNum.length} values`);
          num![values + i] = dictNum[x]!;
        }
      }
    } else {
      throw new Error(`value encoding ${encoding} is not read`);
    }
    entries += n;
    values += present;
  }
  return {
    count: numValues,
    rep,
    def,
    num: num === null ? null : num.subarray(0, values),
    str: str === null ? null : str.slice(0, values),
  };
}
