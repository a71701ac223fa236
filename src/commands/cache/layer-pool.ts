// `cache` simulates its layers on several threads: each layer is independent (its own access
// sequence and caches), so worker threads (layer-worker.ts) take the next layer as they finish
// one, its rows read from the spill here and transferred, not copied. One layer's rows per thread
// are held at a time. The results are those of the one-thread loop: the same function, per layer.
import { Worker } from "node:worker_threads";
import { simulateLayer, type LayerJob } from "../../analysis/cache-layer.js";
import type { LayerSimulation } from "../../analysis/cache-report.js";

function onWorker(w: Worker, job: LayerJob): Promise<LayerSimulation> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: LayerSimulation) => {
      w.off("error", onError);
      resolve(m);
    };
    const onError = (e: Error) => {
      w.off("message", onMessage);
      reject(e);
    };
    w.once("message", onMessage);
    w.once("error", onError);
    const r = job.rows;
    w.postMessage(job, [r.req.buffer, r.token.buffer, r.step.buffer, r.ids.buffer] as ArrayBuffer[]);
  });
}

/** Simulates layers 0..n-1 (`job(li)` makes each when a thread is free) on `threads` threads. */
export async function simulateLayers(
  n: number,
  job: (li: number) => LayerJob,
  threads: number,
): Promise<LayerSimulation[]> {
  if (threads < 2 || n < 2) return Array.from({ length: n }, (_, li) => simulateLayer(job(li)));
  const out: LayerSimulation[] = new Array<LayerSimulation>(n);
  const workers = Array.from(
    { length: Math.min(threads, n) },
    () => new Worker(new URL("./layer-worker.js", import.meta.url)),
  );
  let next = 0;
  try {
    await Promise.all(
      workers.map(async (w) => {
        for (let li = next++; li < n; li = next++) out[li] = await onWorker(w, job(li));
      }),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return out;
}
