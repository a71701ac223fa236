// One moe-prof patch transaction at a time per vLLM install: an exclusive lock file beside vllm/.
// A lock left by a process that died (SIGKILL, power loss) is recognised by its pid on this host
// and taken over; a live holder is waited for, then named.
import { open, readFile, rename, link, rm, stat } from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";
import { envError } from "../errors.js";
import { stepDone } from "../fault-injection.js";

export const LOCK_FILE = ".moe-prof-vllm.lock";
/** How long to wait for another live moe-prof holding the lock (a transaction takes well under 1 s). */
const WAIT_MS = 30_000;
/** A lock file still empty after this long was left by a process killed between create and write. */
const EMPTY_STALE_MS = 2_000;

interface Holder {
  pid: number;
  host: string;
  started: string;
}

export interface PatchLock {
  readonly file: string;
  release(): Promise<void>;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by someone else
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function readHolder(file: string): Promise<{ holder: Holder | null; ino: number; ageMs: number } | null> {
  try {
    const st = await stat(file);
    const text = await readFile(file, "utf8");
    let holder: Holder | null = null;
    try {
      const v = JSON.parse(text) as Holder;
      if (Number.isInteger(v.pid) && typeof v.host === "string") holder = v;
    } catch {
      /* empty or cut short: judged by age below */
    }
    return { holder, ino: st.ino, ageMs: Date.now() - st.mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

/**
 * Removes a dead holder's lock without ever removing a live one: the lock is first renamed aside
 * (atomic), and if what was moved is not the file judged stale (someone re-created it meanwhile)
 * it is linked back.
 */
async function breakStale(file: string, ino: number, tag: string): Promise<void> {
  const aside = `${file}.stale-${tag}`;
  try {
    await rename(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  if ((await stat(aside)).ino !== ino) await link(aside, file).catch(() => undefined);
  await rm(aside, { force: true });
}

/** Takes the lock of the install at `root`; throws a one-line environment error if it cannot. */
export async function acquirePatchLock(root: string, txid: string, waitMs = WAIT_MS): Promise<PatchLock> {
  const file = path.join(root, LOCK_FILE);
  const me: Holder = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const fh = await open(file, "wx", 0o644);
      try {
        await fh.writeFile(JSON.stringify(me) + "\n");
      } finally {
        await fh.close();
      }
      stepDone("lock");
      return {
        file,
        release: async () => {
          await rm(file, { force: true });
          stepDone("unlock");
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const seen = await readHolder(file);
    if (seen === null) continue; // released just now
    const { holder } = seen;
    const dead = holder ? holder.host === me.host && !pidAlive(holder.pid) : seen.ageMs > EMPTY_STALE_MS;
    if (dead) {
      await breakStale(file, seen.ino, txid);
      continue;
    }
    if (Date.now() > deadline) {
      const who = holder ? `moe-prof pid ${holder.pid} on ${holder.host} (since ${holder.started})` : "another process";
      throw envError(
        `${file} is held by ${who}: wait for it to finish, or delete that file if no moe-prof is running there`,
      );
    }
    await sleep(50);
  }
}
