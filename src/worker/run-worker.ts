// Start one Python worker (one pass), follow its JSON-lines messages, and end it cleanly on abort.
import { createWriteStream } from "node:fs";
import { createInterface } from "node:readline";
import path from "node:path";
import { execa } from "execa";
import { UserError, EXIT_INVALID, EXIT_ENV, EXIT_INTERRUPTED } from "../errors.js";
import { packageRoot } from "../config/package-info.js";
import { parseWorkerLine, type ReadyMsg, type ResultMsg, type WorkerMessage } from "./protocol.js";
import { endProcessGroup } from "./process-group.js";

export interface WorkerOutcome {
  ready: ReadyMsg;
  result: ResultMsg;
  wallS: number;
}

export interface WorkerOptions {
  python: string;
  jobPath: string;
  stderrPath: string;
  /** Every protocol line as received, for debugging and replay. */
  transcriptPath?: string;
  label: string;
  onMessage?: (msg: WorkerMessage) => void;
  signal?: AbortSignal;
  env?: Record<string, string>;
  /** How long a worker may take to exit after its result or error (engine teardown can hang). */
  exitGraceMs?: number;
}

export function workerEnv(extra: Record<string, string> = {}): Record<string, string> {
  const pyDir = path.join(packageRoot(), "python");
  const prev = process.env.PYTHONPATH;
  return { PYTHONPATH: prev ? `${pyDir}${path.delimiter}${prev}` : pyDir, PYTHONUNBUFFERED: "1", ...extra };
}

export async function runWorker(opts: WorkerOptions): Promise<WorkerOutcome> {
  if (opts.signal?.aborted) throw new UserError(`interrupted before the ${opts.label} pass`, EXIT_INTERRUPTED);
  const started = performance.now();
  const child = execa(opts.python, ["-m", "moe_prof.worker", "--job", opts.jobPath], {
    env: workerEnv(opts.env),
    stdin: "ignore",
    stdout: "pipe",
    stderr: { file: opts.stderrPath },
    detached: true, // own process group: see process-group.ts
    buffer: false,
    reject: false,
  });
  const pgid = child.pid;
  let ready: ReadyMsg | undefined;
  let result: ResultMsg | undefined;
  let failure: string | undefined;
  let aborted = false;
  let reaped = false; // ended by us after its last message, because it did not exit in time
  let stopping: Promise<void> | undefined;
  let graceTimer: NodeJS.Timeout | undefined;

  const onAbort = () => {
    aborted = true;
    if (pgid) stopping ??= endProcessGroup(pgid);
  };
  const expectExit = () => {
    graceTimer ??= setTimeout(() => {
      reaped = true;
      if (pgid) stopping ??= endProcessGroup(pgid);
    }, opts.exitGraceMs ?? 60_000);
  };
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  const logHint = `see ${opts.stderrPath}`;
  const transcript = opts.transcriptPath ? createWriteStream(opts.transcriptPath) : null;

  try {
    if (child.stdout) {
      for await (const line of createInterface({ input: child.stdout, crlfDelay: Infinity })) {
        if (line.trim() === "") continue;
        transcript?.write(line + "\n");
        const parsed = parseWorkerLine(line);
        if (!parsed.ok) {
          failure ??= `${opts.label} worker sent a bad protocol message (${parsed.error})`;
          continue;
        }
        const msg = parsed.msg;
        opts.onMessage?.(msg);
        if (msg.type === "ready") ready = msg;
        else if (msg.type === "result") {
          result = msg;
          expectExit();
        } else if (msg.type === "error") {
          failure ??= `${opts.label} pass failed: ${msg.message}`;
          expectExit();
        }
      }
    }
    const exit = await child;
    if ((exit as { code?: string }).code === "ENOENT")
      throw new UserError(`Python not found: ${opts.python} (pass --python PATH)`, EXIT_ENV);
    if (aborted) throw new UserError(`interrupted during the ${opts.label} pass; worker stopped`, EXIT_INTERRUPTED);
    if (failure) throw new UserError(`${failure} (${logHint})`, EXIT_INVALID);
    // A worker that reported its result but hung in engine teardown was ended by us: the result stands.
    if ((exit.exitCode !== 0 && !reaped) || !ready || !result) {
      const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.exitCode ?? "?"}`;
      throw new UserError(`${opts.label} worker ${how} before reporting a result (${logHint})`, EXIT_INVALID);
    }
    return { ready, result, wallS: (performance.now() - started) / 1000 };
  } finally {
    clearTimeout(graceTimer);
    transcript?.end();
    opts.signal?.removeEventListener("abort", onAbort);
    // Whatever happened, no worker process (or GPU-holding child) outlives the pass.
    if (pgid) await (stopping ?? endProcessGroup(pgid, 2_000));
  }
}
