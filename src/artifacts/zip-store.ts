// A streaming writer of uncompressed ("stored") zip archives, which is what numpy's .npz is
// (np.savez without compression). Entries are written one after another straight to a temp file
// beside the target, which is renamed over it only when the central directory is complete, so a
// reader never sees a half-written archive. ZIP64 records are added when sizes, offsets or the
// entry count outgrow the classic fields (PKWARE APPNOTE 6.3.x, sections 4.3 and 4.5.3).
import { open, rename, rm, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { crc32 } from "node:zlib";

const MAX32 = 0xffffffff;
const MAX16 = 0xffff;
// 1980-01-01 00:00:00 in DOS format: fixed, so that the same log gives the same bytes.
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;

interface CentralEntry {
  name: Buffer;
  utf8: boolean;
  crc: number;
  size: number;
  offset: number;
}

export class StoredZipWriter {
  private offset = 0;
  private readonly entries: CentralEntry[] = [];
  private done = false;

  private constructor(
    private readonly fh: FileHandle,
    private readonly tmp: string,
    readonly target: string,
    /** Write ZIP64 records even when not needed (for tests of the ZIP64 path). */
    private readonly forceZip64: boolean,
  ) {}

  static async create(target: string, opts: { forceZip64?: boolean } = {}): Promise<StoredZipWriter> {
    const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${Date.now()}.tmp`);
    const fh = await open(tmp, "w");
    return new StoredZipWriter(fh, tmp, target, opts.forceZip64 ?? false);
  }

  private async write(buf: Uint8Array): Promise<void> {
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await this.fh.write(buf, off, buf.length - off, this.offset + off);
      off += bytesWritten;
    }
    this.offset += buf.length;
  }

  /** Adds one entry whose content is the concatenation of `parts`. */
  async add(name: string, parts: readonly Uint8Array[]): Promise<void> {
    if (this.done) throw new Error("zip: add after finish");
    let crc = 0;
    let size = 0;
    for (const p of parts) {
      crc = crc32(p, crc);
      size += p.length;
    }
    const nameBuf = Buffer.from(name, "utf8");
    const utf8 = /[^\x20-\x7e]/.test(name);
    const zip64 = this.forceZip64 || size >= MAX32;
    const extra = zip64 ? Buffer.alloc(20) : Buffer.alloc(0);
    if (zip64) {
      extra.writeUInt16LE(0x0001, 0);
      extra.writeUInt16LE(16, 2);
      extra.writeBigUInt64LE(BigInt(size), 4);
      extra.writeBigUInt64LE(BigInt(size), 12);
    }
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(zip64 ? 45 : 20, 4);
    h.writeUInt16LE(utf8 ? 0x0800 : 0, 6);
    h.writeUInt16LE(0, 8); // stored
    h.writeUInt16LE(DOS_TIME, 10);
    h.writeUInt16LE(DOS_DATE, 12);
    h.writeUInt32LE(crc >>> 0, 14);
    h.writeUInt32LE(zip64 ? MAX32 : size, 18);
    h.writeUInt32LE(zip64 ? MAX32 : size, 22);
    h.writeUInt16LE(nameBuf.length, 26);
    h.writeUInt16LE(extra.length, 28);
    const entry: CentralEntry = { name: nameBuf, utf8, crc: crc >>> 0, size, offset: this.offset };
    await this.write(Buffer.concat([h, nameBuf, extra]));
    for (const p of parts) await this.write(p);
    this.entries.push(entry);
  }

  /** Writes the central directory, flushes, and renames the archive into place. */
  async finish(): Promise<void> {
    const cdStart = this.offset;
    for (const e of this.entries) {
      const bigSize = this.forceZip64 || e.size >= MAX32;
      const bigOffset = this.forceZip64 || e.offset >= MAX32;
      const fields: bigint[] = [];
      if (bigSize) fields.push(BigInt(e.size), BigInt(e.size));
      if (bigOffset) fields.push(BigInt(e.offset));
      const extra = Buffer.alloc(fields.length ? 4 + 8 * fields.length : 0);
      if (fields.length) {
        extra.writeUInt16LE(0x0001, 0);
        extra.writeUInt16LE(8 * fields.length, 2);
        fields.forEach((v, i) => extra.writeBigUInt64LE(v, 4 + 8 * i));
      }
      const c = Buffer.alloc(46);
      c.writeUInt32LE(0x02014b50, 0);
      c.writeUInt16LE((3 << 8) | 45, 4); // made by: Unix, spec 4.5
      c.writeUInt16LE(fields.length ? 45 : 20, 6);
      c.writeUInt16LE(e.utf8 ? 0x0800 : 0, 8);
      c.writeUInt16LE(0, 10);
      c.writeUInt16LE(DOS_TIME, 12);
      c.writeUInt16LE(DOS_DATE, 14);
      c.writeUInt32LE(e.crc, 16);
      c.writeUInt32LE(bigSize ? MAX32 : e.size, 20);
      c.writeUInt32LE(bigSize ? MAX32 : e.size, 24);
      c.writeUInt16LE(e.name.length, 28);
      c.writeUInt16LE(extra.length, 30);
      c.writeUInt16LE(0, 32); // comment
      c.writeUInt16LE(0, 34); // disk
      c.writeUInt16LE(0, 36); // internal attributes
      c.writeUInt32LE((0o100644 << 16) >>> 0, 38); // external: regular file, rw-r--r--
      c.writeUInt32LE(bigOffset ? MAX32 : e.offset, 42);
      await this.write(Buffer.concat([c, e.name, extra]));
    }
    const cdSize = this.offset - cdStart;
    const n = this.entries.length;
    const zip64 = this.forceZip64 || n >= MAX16 || cdSize >= MAX32 || cdStart >= MAX32;
    if (zip64) {
      const eocd64At = this.offset;
      const r = Buffer.alloc(56);
      r.writeUInt32LE(0x06064b50, 0);
      r.writeBigUInt64LE(44n, 4);
      r.writeUInt16LE((3 << 8) | 45, 12);
      r.writeUInt16LE(45, 14);
      r.writeUInt32LE(0, 16);
      r.writeUInt32LE(0, 20);
      r.writeBigUInt64LE(BigInt(n), 24);
      r.writeBigUInt64LE(BigInt(n), 32);
      r.writeBigUInt64LE(BigInt(cdSize), 40);
      r.writeBigUInt64LE(BigInt(cdStart), 48);
      const loc = Buffer.alloc(20);
      loc.writeUInt32LE(0x07064b50, 0);
      loc.writeUInt32LE(0, 4);
      loc.writeBigUInt64LE(BigInt(eocd64At), 8);
      loc.writeUInt32LE(1, 16);
      await this.write(Buffer.concat([r, loc]));
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(zip64 ? MAX16 : n, 8);
    end.writeUInt16LE(zip64 ? MAX16 : n, 10);
    end.writeUInt32LE(zip64 ? MAX32 : cdSize, 12);
    end.writeUInt32LE(zip64 ? MAX32 : cdStart, 16);
    await this.write(end);
    await this.fh.sync();
    await this.fh.close();
    this.done = true;
    await rename(this.tmp, this.target);
  }

  /** Drops the temp file (after an error). */
  async abort(): Promise<void> {
    if (!this.done) await this.fh.close().catch(() => undefined);
    this.done = true;
    await rm(this.tmp, { force: true });
  }
}
