// The files of a log set scanned at once: one lane on this thread and `threads - 1` on worker
// threads (file-worker.ts), each taking the next file in order until none is left. Parts are
// handed on in file order, so that the first problem in file order is the one reported and a
// merge sees the files as one log written file after file.
import { Worker } from "node:worker_threads";
import { runFileJob, type FileJob, type FilePart } from "./file-part.js";

type WorkerReply = { part: FilePart } | { crash: string };

function onWorker(w: Worker, job: FileJob): Promise<FilePart> {
  return new Promise((resolve, reject) => {
    const done = () => {
      w.off("message", onMessage);
      w.off("error", onError);
      w.off("exit", onExit);
    };
    const onMessage = (m: WorkerReply) => {
      done();
      if ("crash" in m) reject(new Error(`file worker: ${m.crash}`));
      else resolve(m.part);
    };
    const onError = (e: Error) => {
      done();
      reject(e);
    };
    const onExit = (code: number) => {
      done();
      reject(new Error(`file worker exited (${code}) while reading ${job.file}`));
    };
    w.on("message", onMessage);
    w.once("error", onError);
    w.once("exit", onExit);
    w.postMessage(job);
  });
}

/**
 * Runs `jobs` on `threads` lanes and hands each part to `onPart` in file order, as soon as it and
 * every part before it are done (a part is then dropped: memory holds the parts finished ahead of
 * an earlier one, at most `window` of them, as a lane waits rather than run further ahead).
 * `onPart` returns true to stop (no file after it is started or handed on) and may throw, which
 * stops the same way; runFileJobs then rethrows once the lanes are idle.
 */
export async function runFileJobs(
  jobs: readonly FileJob[],
  threads: number,
  onPart: (index: number, part: FilePart) => boolean | void,
  window = 2 * Math.max(1, threads),
): Promise<void> {
  const done = new Map<number, FilePart>();
  let next = 0;
  let committed = 0;
  let stopped = false;
  let failure: { error: unknown } | null = null;
  let wake: (() => void)[] = [];
  const commit = (): void => {
    while (!stopped && done.has(committed)) {
      const part = done.get(committed)!;
      done.delete(committed);
      try {
        if (onPart(committed, part) === true) stopped = true;
      } catch (e) {
        failure = { error: e };
        stopped = true;
      }
      committed++;
    }
    const w = wake;
    wake = [];
    for (const f of w) f();
  };
  const lane = async (run: (job: FileJob) => Promise<FilePart>): Promise<void> => {
    for (;;) {
      while (!stopped && next < jobs.length && next >= committed + window) await new Promise<void>((r) => wake.push(r));
      if (stopped || next >= jobs.length) return;
      const i = next++;
      done.set(i, await run(jobs[i]!));
      commit();
    }
  };
  const workers = Array.from(
    { length: Math.max(0, Math.min(threads, jobs.length) - 1) },
    () => new Worker(new URL("./file-worker.js", import.meta.url)),
  );
  try {
    await Promise.all([lane(runFileJob), ...workers.map((w) => lane((job) => onWorker(w, job)))]);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  if (failure !== null) throw (failure as { error: unknown }).error;
}
