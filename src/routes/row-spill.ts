// Compact binary copies of route rows on disk, split into partitions (per layer, per request
// bucket, ...), so that a command can read a log once, validating it, and then revisit its rows
// in another order without holding them in memory. A record is a fixed number of float64 fields
// then int32 fields, padded to 8 bytes; a partition is a temp file of records in arrival order.
// Memory: one 64 KiB buffer per partition while writing; while reading, one chunk or one
// partition, as the caller chooses.
import { mkdtempSync, openSync, writeSync, readSync, closeSync, fstatSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { envError, fsProblem, UserError, EXIT_INVALID } from "../errors.js";

export interface SpillLayout {
  /** float64 fields per record (positions, steps: integers up to 2^53). */
  f64: number;
  /** int32 fields per record (indices, expert ids). */
  i32: number;
}

/** Records of one chunk or partition: field j of record r is f64[r * w64 + j] / i32[r * w32 + 2 * layout.f64 + j]. */
export interface SpillRecords {
  count: number;
  f64: Float64Array;
  i32: Int32Array;
}

const WRITE_BUFFER_BYTES = 64 * 1024;
const READ_CHUNK_BYTES = 4 * 1024 * 1024;
export const MAX_PARTITIONS = 256;

export class RowSpill {
  readonly dir: string;
  readonly recordBytes: number;
  /** Words per record, for indexing SpillRecords. */
  readonly w64: number;
  readonly w32: number;
  /** Offset of the first int32 field within a record, in int32 words. */
  readonly i32Base: number;
  private readonly perBuffer: number;
  private readonly bufs: (ArrayBuffer | undefined)[];
  private readonly fill: Int32Array;
  private readonly fds: (number | undefined)[];
  private readonly counts: Float64Array;
  private closed = false;

  constructor(
    readonly partitions: number,
    readonly layout: SpillLayout,
  ) {
    if (partitions < 1 || partitions > MAX_PARTITIONS)
      throw new Error(`RowSpill: ${partitions} partitions (1..${MAX_PARTITIONS})`);
    const words32 = 2 * layout.f64 + layout.i32;
    this.recordBytes = Math.max(8, Math.ceil((words32 * 4) / 8) * 8);
    this.w64 = this.recordBytes / 8;
    this.w32 = this.recordBytes / 4;
    this.i32Base = 2 * layout.f64;
    this.perBuffer = Math.max(1, Math.floor(WRITE_BUFFER_BYTES / this.recordBytes));
    this.bufs = new Array<ArrayBuffer | undefined>(partitions).fill(undefined);
    this.fill = new Int32Array(partitions);
    this.fds = new Array<number | undefined>(partitions).fill(undefined);
    this.counts = new Float64Array(partitions);
    try {
      this.dir = mkdtempSync(path.join(tmpdir(), "moe-prof-spill-"));
    } catch (e) {
      throw envError(`cannot create a temp directory in ${tmpdir()}: ${fsProblem(e)} (set TMPDIR)`);
    }
  }

  count(partition: number): number {
    return this.counts[partition]!;
  }

  /** Appends one record; `f64` and `i32` hold at least layout.f64 / layout.i32 values. */
  append(partition: number, f64: ArrayLike<number>, i32: ArrayLike<number>): void {
    let buf = this.bufs[partition];
    if (buf === undefined) buf = this.bufs[partition] = new ArrayBuffer(this.perBuffer * this.recordBytes);
    const r = this.fill[partition]!;
    const d = new Float64Array(buf, r * this.recordBytes, this.w64);
    for (let j = 0; j < this.layout.f64; j++) d[j] = f64[j]!;
    const w = new Int32Array(buf, r * this.recordBytes, this.w32);
    for (let j = 0; j < this.layout.i32; j++) w[this.i32Base + j] = i32[j]!;
    this.counts[partition]!++;
    this.fill[partition] = r + 1;
    if (r + 1 === this.perBuffer) this.writeBuffer(partition);
  }

  private file(partition: number): string {
    return path.join(this.dir, `p${partition}.bin`);
  }

  /** Writes the records waiting in a partition's buffer to its file. */
  private writeBuffer(partition: number): void {
    const records = this.fill[partition]!;
    if (records === 0) return;
    let fd = this.fds[partition];
    const file = this.file(partition);
    try {
      if (fd === undefined) fd = this.fds[partition] = openSync(file, "w");
      const bytes = new Uint8Array(this.bufs[partition]!, 0, records * this.recordBytes);
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    } catch (e) {
      throw envError(`cannot write temp file ${file}: ${fsProblem(e)} (set TMPDIR to a disk with more room)`);
    }
    this.fill[partition] = 0;
  }

  /** Flushes every buffer and closes the files; after this only reading is allowed. */
  finishWriting(): void {
    if (this.closed) return;
    for (let p = 0; p < this.partitions; p++) {
      this.writeBuffer(p);
      const fd = this.fds[p];
      if (fd !== undefined) closeSync(fd);
      this.fds[p] = undefined;
      this.bufs[p] = undefined;
    }
    this.closed = true;
  }

  /** Every record of a partition, in arrival order (memory: the whole partition). */
  readAll(partition: number): SpillRecords {
    const n = this.counts[partition]!;
    const buf = new ArrayBuffer(n * this.recordBytes);
    if (n > 0) this.readInto(partition, new Uint8Array(buf), 0);
    return { count: n, f64: new Float64Array(buf), i32: new Int32Array(buf) };
  }

  /** The records of a partition in arrival order, a chunk (a few MiB) at a time. */
  *chunks(partition: number): Generator<SpillRecords> {
    const total = this.counts[partition]!;
    if (total === 0) return;
    const per = Math.max(1, Math.floor(READ_CHUNK_BYTES / this.recordBytes));
    const buf = new ArrayBuffer(per * this.recordBytes);
    const fd = this.openForRead(partition);
    try {
      for (let done = 0; done < total;) {
        const n = Math.min(per, total - done);
        const bytes = new Uint8Array(buf, 0, n * this.recordBytes);
        this.readFully(fd, bytes, done * this.recordBytes, partition);
        done += n;
        yield { count: n, f64: new Float64Array(buf, 0, n * this.w64), i32: new Int32Array(buf, 0, n * this.w32) };
      }
    } finally {
      closeSync(fd);
    }
  }

  private openForRead(partition: number): number {
    if (!this.closed) throw new Error("RowSpill: finishWriting() before reading");
    try {
      return openSync(this.file(partition), "r");
    } catch (e) {
      throw envError(`cannot read temp file ${this.file(partition)}: ${fsProblem(e)}`);
    }
  }

  private readInto(partition: number, bytes: Uint8Array, position: number): void {
    const fd = this.openForRead(partition);
    try {
      const size = fstatSync(fd).size;
      if (size !== bytes.length + position)
        throw envError(
          `temp file ${this.file(partition)} has ${size} bytes, expected ${bytes.length} (changed by something else?)`,
        );
      this.readFully(fd, bytes, position, partition);
    } finally {
      closeSync(fd);
    }
  }

  private readFully(fd: number, bytes: Uint8Array, position: number, partition: number): void {
    let off = 0;
    while (off < bytes.length) {
      const n = readSync(fd, bytes, off, bytes.length - off, position + off);
      if (n === 0) throw envError(`temp file ${this.file(partition)} ended early (changed by something else?)`);
      off += n;
    }
  }

  /** Removes the temp files (also after an error). */
  dispose(): void {
    for (let p = 0; p < this.partitions; p++) {
      const fd = this.fds[p];
      if (fd !== undefined) closeSync(fd);
      this.fds[p] = undefined;
    }
    this.closed = true;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The spill that a log's meta line made, closed for writing; null means the log had no meta line
 * (a validating read refuses such a log before this). */
export function finishedSpill(spill: RowSpill | null, file: string): RowSpill {
  if (spill === null) throw new UserError(`${file}: no meta line`, EXIT_INVALID);
  spill.finishWriting();
  return spill;
}
