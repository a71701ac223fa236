// Thrift's compact protocol, as Parquet's footer and page headers use it: a struct read into a
// map of field id -> value (lists as arrays, binaries as Buffers, structs as maps; doubles skipped).
// Enough for parquet.thrift's FileMetaData and PageHeader; nothing is written.

export type Thrift = Map<number, unknown>;

/** The struct at `pos` of `b`: its fields by id, and where it ends. Throws on a type it does not know. */
export function readThrift(b: Uint8Array, pos: number): [Thrift, number] {
  const varint = (): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const x = b[pos++];
      if (x === undefined) throw new Error("thrift: truncated");
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
        const s = Buffer.from(b.buffer, b.byteOffset + pos, n);
        pos += n;
        return s;
      }
      case 9:
      case 10: {
        const h = b[pos++]!;
        let n = h >> 4;
        if (n === 15) n = varint();
        const out: unknown[] = [];
        // a list of booleans holds one byte per element
        for (let i = 0; i < n; i++) out.push((h & 0x0f) === 1 || (h & 0x0f) === 2 ? b[pos++] === 1 : value(h & 0x0f));
        return out;
      }
      case 12: {
        const [s, end] = readThrift(b, pos);
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
    const h = b[pos++];
    if (h === undefined) throw new Error("thrift: truncated");
    if (h === 0) return [out, pos];
    const d = h >> 4;
    id = d !== 0 ? id + d : zz(varint());
    out.set(id, value(h & 0x0f));
  }
}

export const thriftString = (x: unknown): string => (x instanceof Buffer ? x.toString("utf8") : "");
