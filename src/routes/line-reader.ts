// Streams a file as text lines with bounded memory. Works on whole chunks where it can: one native
// UTF-8 check and one decode per chunk, then string splitting, which is what keeps a 200 MB log
// fast. Per-line byte work happens only on a chunk that failed the UTF-8 check.
import { createReadStream } from "node:fs";
import { isUtf8 } from "node:buffer";
import { logBytes } from "./log-source.js";

/** Longest line accepted (a meta line may carry the prompts); longer lines are skipped, not buffered. */
export const DEFAULT_MAX_LINE_BYTES = 8 * 1024 * 1024;
const CHUNK_BYTES = 1024 * 1024;

export interface LineSink {
  /** A decoded line without its "\n". `terminated` is false only for a last line lacking "\n". */
  line(text: string, lineNo: number, terminated: boolean): void;
  /** A line that cannot be decoded: not UTF-8, or longer than the limit. */
  unreadable(lineNo: number, what: string): void;
  /** Checked after every line; true stops reading (e.g. after the first error). */
  readonly stopped: boolean;
  /**
   * Optional byte path for the whole lines of a chunk that passed the UTF-8 check, buf[start,
   * end) with end just past a "\n", the first numbered firstLineNo: the sink reads some of them
   * itself (handing lines it does not take to `line`) and says how many lines it consumed and
   * where the rest begins (decoded and given to `line` as usual); null: none consumed.
   */
  lines?(buf: Buffer, start: number, end: number, firstLineNo: number): { lines: number; next: number } | null;
  /** Optional: bytes read from the file so far (before decompression), for a progress bar. */
  progress?(rawBytes: number): void;
}

export interface ReadLinesResult {
  lines: number;
  bytes: number;
}

/** A byte range [start, end) that begins at a line start; line numbers in it are counted from 1. */
export interface ByteRange {
  start: number;
  end: number;
}

export async function readLines(
  file: string,
  sink: LineSink,
  maxLineBytes = DEFAULT_MAX_LINE_BYTES,
  range?: ByteRange,
): Promise<ReadLinesResult> {
  // The in-chunk fast path never checks length, so chunks must not be longer than the limit.
  const highWaterMark = Math.min(CHUNK_BYTES, maxLineBytes);
  // A whole log may be compressed or standard input (log-source.ts); a range is of a plain file.
  const stream: AsyncIterable<Buffer> | null =
    range === undefined
      ? logBytes(file, highWaterMark, sink.progress && ((n) => sink.progress!((raw += n))))
      : range.end > range.start
        ? createReadStream(file, { highWaterMark, start: range.start, end: range.end - 1 })
        : null;
  if (stream === null) return { lines: 0, bytes: 0 };
  let raw = 0;
  let carry: Buffer[] = [];
  let carryLen = 0;
  let skippingLongLine = false;
  let lineNo = 0;
  let bytes = 0;

  const emitBytes = (buf: Buffer, terminated: boolean): void => {
    lineNo++;
    if (isUtf8(buf)) sink.line(buf.toString("utf8"), lineNo, terminated);
    else sink.unreadable(lineNo, "not valid UTF-8");
  };

  try {
    for await (const chunk of stream) {
      bytes += chunk.length;
      if (range !== undefined) sink.progress?.((raw += chunk.length)); // a whole log counts in logBytes
      const lastNl = chunk.lastIndexOf(10);
      if (lastNl === -1) {
        if (skippingLongLine) continue;
        carry.push(chunk);
        carryLen += chunk.length;
        if (carryLen > maxLineBytes) {
          lineNo++;
          sink.unreadable(lineNo, `line longer than ${maxLineBytes} bytes`);
          carry = [];
          carryLen = 0;
          skippingLongLine = true;
        }
        continue;
      }
      let start = 0;
      if (carryLen > 0 || skippingLongLine) {
        const firstNl = chunk.indexOf(10);
        if (skippingLongLine) skippingLongLine = false;
        else if (carryLen + firstNl > maxLineBytes) {
          lineNo++;
          sink.unreadable(lineNo, `line longer than ${maxLineBytes} bytes`);
        } else emitBytes(Buffer.concat([...carry, chunk.subarray(0, firstNl)]), true);
        carry = [];
        carryLen = 0;
        start = firstNl + 1;
        if (sink.stopped) break;
      }
      if (start <= lastNl && sink.lines && isUtf8(chunk.subarray(start, lastNl + 1))) {
        const fast = sink.lines(chunk, start, lastNl + 1, lineNo + 1);
        if (fast !== null) {
          lineNo += fast.lines;
          start = fast.next;
          if (sink.stopped) break;
        }
      }
      if (start <= lastNl) {
        const region = chunk.subarray(start, lastNl + 1);
        const utf8 = isUtf8(region);
        if (utf8) {
          const text = region.toString("utf8");
          let pos = 0;
          const end = text.length;
          while (pos < end) {
            const nl = text.indexOf("\n", pos);
            lineNo++;
            sink.line(text.slice(pos, nl), lineNo, true);
            if (sink.stopped) break;
            pos = nl + 1;
          }
        } else {
          let pos = 0;
          while (pos < region.length) {
            const nl = region.indexOf(10, pos);
            emitBytes(region.subarray(pos, nl), true);
            if (sink.stopped) break;
            pos = nl + 1;
          }
        }
        if (sink.stopped) break;
      }
      if (lastNl + 1 < chunk.length) {
        // Copy: a view would pin the whole chunk for as long as the partial line waits.
        const tail = Buffer.from(chunk.subarray(lastNl + 1));
        carry = [tail];
        carryLen = tail.length;
      }
    }
    if (!sink.stopped && carryLen > 0) emitBytes(Buffer.concat(carry), false);
  } finally {
    // A file stream is closed; the generator of a whole log was closed by leaving the for-await.
    (stream as { destroy?: () => void }).destroy?.();
  }
  return { lines: lineNo, bytes };
}
