// The OpenAI server under test (`vllm serve`, or a stand-in in tests) as a child process: started
// in its own process group on 127.0.0.1 and a free port, its output in a log file, waited on
// until /health answers (bounded), and stopped so that the patched vLLM can close its routes log:
// SIGINT to the server (what Ctrl-C sends; vLLM shuts its engine down), then SIGTERM and SIGKILL
// to the whole group (the engine-core children included) if it does not go within the bounds.
import { readdirSync, readFileSync } from "node:fs";
import net from "node:net";
import { execa } from "execa";
import { request } from "undici";
import { envError, UserError, EXIT_INTERRUPTED } from "../errors.js";
import { endProcessGroup, groupAlive } from "../worker/process-group.js";
import { lastLine, pythonSpawnProblem } from "../config/python.js";

export interface ServerHandle {
  pid: number;
  url: string;
  logPath: string;
  /** Resolves when the server process (the group's leader) has exited. */
  exited: Promise<{ exitCode: number | undefined; signal: string | undefined; spawnProblem: string | null }>;
  hasExited: () => boolean;
}

/** What ended the server: it had exited already, or the signal that did. */
export type StopHow = "exited-before" | "SIGINT" | "SIGTERM" | "SIGKILL";

/** A port free on 127.0.0.1 now (the OS picks it; the server binds it moments later). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", resolve);
  });
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** `env` is the whole environment (nothing inherited): a VLLM_LOG_MOE in the caller's shell must
 * not turn the capture on in a no-log pass. */
export function startServer(
  file: string,
  args: string[],
  opts: { port: number; env: Record<string, string>; logPath: string },
): ServerHandle {
  // both streams appended to one file (O_APPEND: lines of the two do not overwrite each other)
  const out = { file: opts.logPath, append: true };
  const child = execa(file, args, {
    env: opts.env,
    extendEnv: false,
    stdin: "ignore",
    stdout: out,
    stderr: out,
    detached: true, // its own process group: vLLM's engine core and workers go with it
    reject: false,
  });
  let done = false;
  const exited = child.then((r) => {
    done = true;
    const code = (r as { code?: string }).code;
    const neverRan = r.exitCode === undefined && r.signal === undefined && code !== undefined;
    return { exitCode: r.exitCode, signal: r.signal, spawnProblem: neverRan ? pythonSpawnProblem(file, code) : null };
  });
  return {
    pid: child.pid ?? -1, // undefined: it could not start (ENOENT, EACCES); `exited` says why
    url: `http://127.0.0.1:${opts.port}`,
    logPath: opts.logPath,
    exited,
    hasExited: () => done || child.pid === undefined,
  };
}

/** The last line the server wrote to its output (where Python puts the exception). */
export function serverLastLine(h: ServerHandle): string {
  try {
    return lastLine(readFileSync(h.logPath, "utf8"));
  } catch {
    return "";
  }
}

/** Polls GET /health until it answers 200; returns the seconds that took. Throws (one line) when
 * the server exits first, when `timeoutMs` passes, or when `signal` aborts; the caller then stops
 * the server. */
export async function waitHealthy(h: ServerHandle, timeoutMs: number, signal?: AbortSignal): Promise<number> {
  const start = performance.now();
  const deadline = start + timeoutMs;
  while (true) {
    if (signal?.aborted) throw new UserError("interrupted while waiting for the server to start", EXIT_INTERRUPTED);
    if (h.hasExited()) {
      const e = await h.exited;
      if (e.spawnProblem) throw envError(`${e.spawnProblem}: pass --python PATH (the venv with patched vLLM)`);
      const why = serverLastLine(h) || (e.signal ? `killed by ${e.signal}` : `exit code ${e.exitCode}`);
      throw envError(`the server exited before answering /health (${why}); its output: ${h.logPath}`);
    }
    const left = deadline - performance.now();
    if (left <= 0)
      throw envError(
        `the server did not answer ${h.url}/health within ${(timeoutMs / 1000).toFixed(0)} s (stopped it; raise --health-timeout for large models); its output: ${h.logPath}`,
      );
    const wait = Math.max(1, Math.min(2_000, left));
    try {
      // each probe is bounded too: a server that accepts and never answers must not hold us
      const res = await request(`${h.url}/health`, {
        headersTimeout: wait,
        bodyTimeout: wait,
      });
      await res.body.dump();
      if (res.statusCode === 200) return (performance.now() - start) / 1000;
    } catch {
      /* not listening yet, or this probe timed out */
    }
    await new Promise((r) => setTimeout(r, Math.min(250, Math.max(0, deadline - performance.now()))));
  }
}

/** Whether a process of the group is still running. On Linux, zombies do not count: a child the
 * server left behind is re-parented, and where PID 1 does not reap (containers) it stays a zombie
 * after it died, which kill(-pgid, 0) still finds. */
function groupRunning(pgid: number): boolean {
  if (!groupAlive(pgid)) return false;
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return true; // no /proc: trust kill(-pgid, 0)
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${e}/stat`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after the last ")"
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(f[2]) === pgid && f[0] !== "Z") return true;
  }
  return false;
}

/** SIGINT to the server; after `graceMs` with the group still there, SIGTERM to the group, and
 * SIGKILL after as long again (at most 10 s). Resolves once no process of the group is left. */
export async function stopServer(h: ServerHandle, graceMs: number): Promise<StopHow> {
  if (h.pid < 0 || (h.hasExited() && !groupRunning(h.pid))) {
    await h.exited;
    return "exited-before";
  }
  const waitGone = async (ms: number) => {
    const deadline = performance.now() + ms;
    while (groupRunning(h.pid) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return !groupRunning(h.pid);
  };
  try {
    process.kill(h.pid, "SIGINT");
  } catch {
    /* already gone */
  }
  let how: StopHow = "SIGINT";
  if (!(await waitGone(graceMs))) {
    const termGrace = Math.min(graceMs, 10_000);
    try {
      process.kill(-h.pid, "SIGTERM");
    } catch {
      /* gone meanwhile */
    }
    how = (await waitGone(termGrace)) ? "SIGTERM" : "SIGKILL";
    if (how === "SIGKILL") await endProcessGroup(h.pid, 0); // SIGTERM again, then SIGKILL at once
  }
  await h.exited;
  return how;
}
