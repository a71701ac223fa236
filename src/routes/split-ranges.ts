// Splitting a log into byte ranges that start and end at line boundaries, for parallel scans.
import { open } from "node:fs/promises";
import type { ByteRange } from "./line-reader.js";

const PROBE = 64 * 1024;

/** The first line of a file (without "\n") and the offset just past it; null if none within maxBytes. */
export async function readFirstLine(file: string, maxBytes: number): Promise<{ text: Buffer; end: number } | null> {
  const fh = await open(file, "r");
  try {
    let buf = Buffer.alloc(Math.min(maxBytes, PROBE));
    let have = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, have, buf.length - have, have);
      const nl = buf.subarray(have, have + bytesRead).indexOf(10);
      if (nl !== -1) return { text: Buffer.from(buf.subarray(0, have + nl)), end: have + nl + 1 };
      have += bytesRead;
      if (bytesRead === 0 || have >= maxBytes) return null;
      if (have === buf.length) {
        const bigger = Buffer.alloc(Math.min(maxBytes, buf.length * 2));
        buf.copy(bigger);
        buf = bigger;
      }
    }
  } finally {
    await fh.close();
  }
}

/**
 * Cuts [start, end) into up to `parts` ranges of similar size, each ending just after a "\n"
 * (the last one ends at `end`). A cut with no newline after it within the range is dropped.
 */
export async function splitAtLines(file: string, start: number, end: number, parts: number): Promise<ByteRange[]> {
  const fh = await open(file, "r");
  try {
    const cuts: number[] = [start];
    const probe = Buffer.alloc(PROBE);
    for (let k = 1; k < parts; k++) {
      let pos = Math.max(cuts[cuts.length - 1]!, Math.floor(start + ((end - start) * k) / parts));
      let cut = -1;
      while (pos < end && cut === -1) {
        const { bytesRead } = await fh.read(probe, 0, Math.min(PROBE, end - pos), pos);
        if (bytesRead === 0) break;
        const nl = probe.subarray(0, bytesRead).indexOf(10);
        if (nl !== -1) cut = pos + nl + 1;
        else pos += bytesRead;
      }
      if (cut !== -1 && cut < end && cut > cuts[cuts.length - 1]!) cuts.push(cut);
    }
    cuts.push(end);
    return cuts.slice(0, -1).map((s, i) => ({ start: s, end: cuts[i + 1]! }));
  } finally {
    await fh.close();
  }
}
