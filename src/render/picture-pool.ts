// hist's pictures drawn by a child process that starts with the command: it loads vega, vega-lite
// and canvas (~0.3 s of CPU, the largest fixed cost of hist) while the log is being scanned,
// instead of after it. Measured on the bench logs: APPENDIX.md "Benchmark: hist".
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { HistSummary } from "../analysis/summary.js";
import { UserError } from "../errors.js";

interface Answer {
  files?: { name: string; data: Uint8Array }[];
  error?: string;
  /** Set when drawing failed with a UserError (e.g. no canvas): re-thrown as one. */
  exitCode?: number | null;
  /** A file-system error code (EACCES, ENOSPC, ...), for the caller's one-line message. */
  code?: string | null;
}

export class PicturePool {
  private readonly child: ChildProcess;
  private answered = false;

  private constructor() {
    this.child = fork(fileURLToPath(new URL("./picture-process.js", import.meta.url)), [], {
      serialization: "advanced",
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
  }

  /** Starts the drawing process now (it loads the renderer at once). */
  static start(): PicturePool {
    return new PicturePool();
  }

  /** Draws the summary's pictures; resolves to their PNG bytes with their file names. */
  render(summary: HistSummary): Promise<{ name: string; data: Buffer }[]> {
    return new Promise((resolve, reject) => {
      const lost = (why: string) => reject(new Error(`the drawing process ${why}`));
      // "close", not "exit": it comes after the IPC channel is drained, so a large answer (the
      // PNG bytes) sent just before the child exits is not mistaken for no answer.
      this.child.once("close", (code, signal) => {
        if (!this.answered) lost(`exited (${signal ?? code}) before drawing`);
      });
      this.child.once("message", (a: Answer) => {
        this.answered = true;
        if (a.error === undefined)
          return resolve(
            a.files!.map((f) => ({
              name: f.name,
              data: Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength),
            })),
          );
        const err = a.exitCode
          ? new UserError(a.error, a.exitCode)
          : Object.assign(new Error(a.error), a.code ? { code: a.code } : {});
        reject(err);
      });
      this.child.send({ summary });
    });
  }

  /** Stops the process if it is still there (after an error, or if nothing was drawn). */
  close(): void {
    if (this.child.exitCode === null && this.child.signalCode === null && !this.answered) this.child.kill();
  }
}
