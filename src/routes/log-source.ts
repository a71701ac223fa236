// Where a routes log's bytes come from: a file, a gzip or zstd file (recognised by its first
// bytes, whatever its name), or standard input ("-", itself possibly compressed), decompressed
// as they stream. Node 20's zlib has gzip but no zstd: fzstd (pure JavaScript, no dependency)
// decompresses zstd. Compressed input and stdin cannot be cut into byte ranges or seeked into,
// so the parallel scans and Parquet (read from its footer) take plain files only (isSeekable).
import { createReadStream, openSync, readSync, closeSync } from "node:fs";
import { createGunzip } from "node:zlib";
import { Readable } from "node:stream";
import { UserError, EXIT_INVALID } from "../errors.js";

/** The file name that means standard input. */
export const STDIN = "-";

export type LogEncoding = "plain" | "gzip" | "zstd";

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const PARQUET_MAGIC = [0x50, 0x41, 0x52, 0x31]; // "PAR1"

const startsWith = (b: Uint8Array, magic: number[]) => b.length >= magic.length && magic.every((m, i) => b[i] === m);

/** How a log is named in messages and outputs: `-` is `<stdin>`. */
export function logName(file: string): string {
  return file === STDIN ? "<stdin>" : file;
}

export function encodingOf(head: Uint8Array): LogEncoding {
  if (startsWith(head, GZIP_MAGIC)) return "gzip";
  if (startsWith(head, ZSTD_MAGIC)) return "zstd";
  return "plain";
}

/** The encoding of a file from its first bytes; "plain" when it cannot be opened (the read that follows says why). */
export function fileEncoding(file: string): LogEncoding {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch {
    return "plain";
  }
  try {
    const b = Buffer.alloc(4);
    const n = readSync(fd, b, 0, 4, 0);
    return encodingOf(b.subarray(0, n));
  } catch {
    return "plain";
  } finally {
    closeSync(fd);
  }
}

/** True when the log can be read by byte ranges (the parallel scans): a plain file, not stdin. */
export function isSeekable(file: string): boolean {
  return file !== STDIN && fileEncoding(file) === "plain";
}

/**
 * The log's bytes, decompressed, in chunks of at most `maxChunk` bytes (the line reader's fast
 * path relies on that bound). Decompression errors are the log's fault: UserError, exit 1.
 */
export async function* logBytes(
  file: string,
  maxChunk: number,
  /** Called with the size of each chunk read from the file or stdin, before decompression. */
  onRaw?: (bytes: number) => void,
): AsyncGenerator<Buffer> {
  const raw: AsyncIterable<Buffer> =
    file === STDIN ? (process.stdin as AsyncIterable<Buffer>) : createReadStream(file, { highWaterMark: maxChunk });
  const it = raw[Symbol.asyncIterator]();
  let first = await it.next();
  // Standard input may deliver a first chunk shorter than a magic number.
  while (!first.done && first.value.length < 4) {
    const more = await it.next();
    if (more.done) break;
    first = { done: false, value: Buffer.concat([first.value, more.value]) };
  }
  if (first.done) return;
  const head = first.value;
  async function* all(): AsyncGenerator<Buffer> {
    onRaw?.(head.length);
    yield head;
    for (;;) {
      const n = await it.next();
      if (n.done) return;
      onRaw?.(n.value.length);
      yield n.value;
    }
  }
  const encoding = encodingOf(head);
  if (encoding === "plain" && file === STDIN && startsWith(head, PARQUET_MAGIC))
    throw new UserError(
      `${logName(file)}: a Parquet log cannot be read from standard input (it is read from its footer): name the file`,
      EXIT_INVALID,
    );
  const source = encoding === "plain" ? all() : encoding === "gzip" ? gunzip(all(), maxChunk) : unzstd(all());
  try {
    for await (const chunk of source) {
      for (let o = 0; o < chunk.length; o += maxChunk) yield chunk.subarray(o, Math.min(chunk.length, o + maxChunk));
    }
  } catch (e) {
    if (encoding === "plain" || e instanceof UserError) throw e;
    throw new UserError(
      `${logName(file)}: ${encoding}: cannot decompress: ${(e as Error).message || String(e)}`,
      EXIT_INVALID,
    );
  } finally {
    await it.return?.();
    if (file !== STDIN) (raw as Readable).destroy();
  }
}

function gunzip(src: AsyncIterable<Buffer>, chunkSize: number): AsyncIterable<Buffer> {
  // Concatenated gzip members (as `cat a.gz b.gz` makes) are read on, as gzip(1) does.
  return Readable.from(src).pipe(createGunzip({ chunkSize: Math.max(64, Math.min(chunkSize, 1 << 20)) }));
}

async function* unzstd(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const { Decompress } = await import("fzstd");
  let out: Buffer[] = [];
  let ended = false;
  const d = new Decompress((chunk: Uint8Array, final?: boolean) => {
    out.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    if (final) ended = true;
  });
  for await (const chunk of src) {
    d.push(chunk);
    if (out.length) {
      yield* out;
      out = [];
    }
  }
  d.push(new Uint8Array(0), true);
  yield* out;
  if (!ended) throw new Error("unexpected end of data (truncated file?)");
}
