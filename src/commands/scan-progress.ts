// A progress bar on stderr while a long analysis reads its log (cache, compare, place, export,
// hist): drawn only when stderr is a terminal, so a pipe or a CI log gets nothing.
// MOE_PROF_PROGRESS=1 draws it anyway (the tests' stand-in for a terminal), =0 never.

const WIDTH = 24;
/** Redraws at most this often: a 263 MB log is read in ~1 MB chunks. */
const REDRAW_MS = 100;

export interface ScanProgress {
  /** Bytes read so far (before decompression) of `total` (null: unknown, e.g. stdin). */
  update(done: number, total: number | null): void;
  /** Clears the bar (the command's own output follows). */
  end(): void;
}

function wanted(stream: NodeJS.WriteStream): boolean {
  const env = process.env.MOE_PROF_PROGRESS;
  if (env === "0") return false;
  return env === "1" || stream.isTTY === true;
}

const mb = (n: number) => `${(n / 1e6).toFixed(n < 1e7 ? 1 : 0)} MB`;

/** A bar labelled `label`, or null when stderr is not a terminal. */
export function scanProgress(label: string, out: NodeJS.WriteStream = process.stderr): ScanProgress | null {
  if (!wanted(out)) return null;
  let last = 0;
  let drawn = false;
  return {
    update(done, total) {
      const now = Date.now();
      if (now - last < REDRAW_MS && (total === null || done < total)) return;
      last = now;
      drawn = true;
      if (total === null || total <= 0) {
        out.write(`\r\x1b[2K${label}: ${mb(done)} read`);
        return;
      }
      const f = Math.min(1, done / total);
      const filled = Math.round(f * WIDTH);
      out.write(
        `\r\x1b[2K${label}: [${"#".repeat(filled)}${"-".repeat(WIDTH - filled)}] ${(100 * f).toFixed(0)}% of ${mb(total)}`,
      );
    },
    end() {
      if (drawn) out.write("\r\x1b[2K");
    },
  };
}
