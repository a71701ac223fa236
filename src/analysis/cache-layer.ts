// One layer of `cache`: its access sequence in the chosen order, then every policy's hits per
// capacity. Pure; run on this thread or on a worker (commands/cache/layer-pool.ts).
import { requestOrderSequence, stepOrderSequence, type AccessOrder, type LayerRows } from "./access-order.js";
import { simulateCache, type CachePolicy } from "./cache-sim.js";
import type { LayerSimulation } from "./cache-report.js";

export interface LayerJob {
  layer: number;
  rows: LayerRows;
  order: AccessOrder;
  numExperts: number;
  policies: readonly CachePolicy[];
}

export function simulateLayer(job: LayerJob): LayerSimulation {
  const { rows, numExperts: E } = job;
  const built = job.order === "request" ? { seq: requestOrderSequence(rows), steps: null } : stepOrderSequence(rows, E);
  const hits: LayerSimulation["hits"] = {};
  for (const p of job.policies) hits[p] = simulateCache(built.seq, E, p);
  return { layer: job.layer, accesses: built.seq.length, steps: built.steps, hits };
}
