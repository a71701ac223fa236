// cache.json from per-layer simulation results. Pure.
import { capacityFor, type CachePolicy, type HitsByCapacity } from "./cache-sim.js";
import type { AccessOrder } from "./access-order.js";

export const CACHE_SCHEMA = "moe-prof.cache/1";
export const DEFAULT_TARGETS = [0.5, 0.8, 0.9, 0.95, 0.99];

export interface LayerSimulation {
  layer: number;
  accesses: number;
  /** step order: the steps of this layer. */
  steps: number | null;
  hits: Partial<Record<CachePolicy, HitsByCapacity>>;
}

export interface CacheReport {
  schema: string;
  source: { file: string; bytes: number };
  model_id: string;
  order: AccessOrder;
  num_experts: number;
  num_experts_source: "meta" | "max_id_plus_1";
  top_k: number;
  rows: number;
  requests: number;
  /** All layers' accesses together. */
  accesses: number;
  capacities: number[];
  targets: number[];
  policies: Partial<
    Record<
      CachePolicy,
      {
        hit_rate: (number | null)[];
        layers: { layer: number; accesses: number; steps: number | null; hit_rate: (number | null)[] }[];
      }
    >
  >;
  capacity_for: Partial<Record<CachePolicy, Record<string, number | null>>>;
  notes: string[];
}

export interface CacheReportInput {
  source: { file: string; bytes: number };
  modelId: string;
  order: AccessOrder;
  numExperts: number;
  numExpertsSource: "meta" | "max_id_plus_1";
  topK: number;
  rows: number;
  requests: number;
  capacities: number[];
  targets: number[];
  policies: readonly CachePolicy[];
  layers: LayerSimulation[];
  notes: string[];
}

const rate = (hits: number, accesses: number): number | null => (accesses > 0 ? hits / accesses : null);

export function buildCacheReport(input: CacheReportInput): CacheReport {
  const accesses = input.layers.reduce((s, l) => s + l.accesses, 0);
  const policies: CacheReport["policies"] = {};
  const capacity_for: CacheReport["capacity_for"] = {};
  for (const p of input.policies) {
    const total = input.capacities.map((c) => input.layers.reduce((s, l) => s + l.hits[p]![c]!, 0));
    const hit_rate = total.map((h) => rate(h, accesses));
    policies[p] = {
      hit_rate,
      layers: input.layers.map((l) => ({
        layer: l.layer,
        accesses: l.accesses,
        steps: l.steps,
        hit_rate: input.capacities.map((c) => rate(l.hits[p]![c]!, l.accesses)),
      })),
    };
    capacity_for[p] = capacityFor(input.capacities, hit_rate, input.targets);
  }
  return {
    schema: CACHE_SCHEMA,
    source: input.source,
    model_id: input.modelId,
    order: input.order,
    num_experts: input.numExperts,
    num_experts_source: input.numExpertsSource,
    top_k: input.topK,
    rows: input.rows,
    requests: input.requests,
    accesses,
    capacities: input.capacities,
    targets: input.targets,
    policies,
    capacity_for,
    notes: input.notes,
  };
}
