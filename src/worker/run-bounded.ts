// A short-lived child (the Python lookups, setup's steps) that cannot hang moe-prof: it leads its
// own process group; at its deadline, or on Ctrl-C, the whole group is ended (a wrapper script's
// own children included); and once it has exited, pipes still held open by anything it left
// behind are closed after a moment instead of being waited on.
import { execa } from "execa";
import { endProcessGroup } from "./process-group.js";

/** After the child exits, how long its pipes may stay open (output still in flight). */
const PIPE_GRACE_MS = 500;

export interface BoundedOptions {
  timeoutMs: number;
  env?: Record<string, string>;
  /** "inherit": the child writes to our terminal (setup's pip); "pipe": output is collected. */
  stdio?: "pipe" | "inherit";
}

export interface BoundedResult {
  /** undefined when it did not exit by itself (timed out, interrupted, could not start). */
  exitCode: number | undefined;
  signal: string | undefined;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  interrupted: boolean;
  /** errno code when it could not be started at all (ENOENT, EACCES, ...). */
  spawnError: string | undefined;
}

/** Timeouts for children, in seconds, from an environment variable (tests shorten them). */
export function timeoutFromEnv(name: string, defaultS: number): number {
  const v = Number(process.env[name]);
  return (Number.isFinite(v) && v > 0 ? v : defaultS) * 1000;
}

export async function runBounded(file: string, args: string[], opts: BoundedOptions): Promise<BoundedResult> {
  const stdio = opts.stdio ?? "pipe";
  const child = execa(file, args, {
    env: opts.env,
    stdin: "ignore",
    stdout: stdio,
    stderr: stdio,
    detached: true, // its own process group, so that all of it can be ended
    reject: false,
    maxBuffer: 16 * 1024 * 1024,
  });
  const pgid = child.pid;
  let timedOut = false;
  let interrupted = false;
  let ending: Promise<void> | undefined;
  const endAll = (): void => {
    if (pgid) ending ??= endProcessGroup(pgid, 2_000);
    void ending?.then(() => {
      child.stdout?.destroy();
      child.stderr?.destroy();
    });
  };
  const deadline = setTimeout(() => {
    timedOut = true;
    endAll();
  }, opts.timeoutMs);
  let grace: NodeJS.Timeout | undefined;
  child.on("exit", () => {
    grace = setTimeout(endAll, PIPE_GRACE_MS);
  });
  // Detached, it no longer gets the terminal's Ctrl-C: pass it on, to the whole group.
  const onSignal = (): void => {
    interrupted = true;
    endAll();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const r = await child;
    await ending;
    const code = (r as { code?: string }).code;
    const spawnError =
      r.exitCode === undefined && r.signal === undefined && code && code !== "ERR_STREAM_PREMATURE_CLOSE"
        ? code
        : undefined;
    return {
      exitCode: timedOut || interrupted ? undefined : r.exitCode,
      signal: r.signal,
      stdout: typeof r.stdout === "string" ? r.stdout : "",
      stderr: typeof r.stderr === "string" ? r.stderr : "",
      timedOut,
      interrupted,
      spawnError,
    };
  } finally {
    clearTimeout(deadline);
    clearTimeout(grace);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
