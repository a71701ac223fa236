// expert_cache.png: hit rate vs capacity, one line per policy, OPT marked as the bound of every
// policy that inserts each miss. Values come from cache.json; nothing is computed here.
import type { TopLevelSpec } from "vega-lite";
import type { CacheReport } from "../analysis/cache-report.js";
import { CACHE_POLICIES } from "../analysis/cache-sim.js";
import { config } from "./specs.js";

const LABEL: Record<string, string> = {
  lru: "LRU",
  lfu: "LFU",
  opt: "OPT (Belady): bound for LRU/LFU",
  static: "static (C most-used experts pinned)",
};
const COLOR: Record<string, string> = { lru: "#4c78a8", lfu: "#f58518", opt: "#222222", static: "#54a24b" };

export function cacheSpec(r: CacheReport): TopLevelSpec {
  const policies = CACHE_POLICIES.filter((p) => r.policies[p]);
  const values = policies.flatMap((p) =>
    r.capacities.map((c, i) => ({
      policy: LABEL[p]!,
      capacity: c,
      hit_rate: r.policies[p]!.hit_rate[i],
      dashed: p === "opt",
    })),
  );
  const order =
    r.order === "request"
      ? "requests one after another, each in token order"
      : "per engine step, the distinct experts it needs";
  const targets = r.capacity_for.opt ?? r.capacity_for[policies[0]!] ?? {};
  const t90 = policies.map((p) => `${p} ${r.capacity_for[p]?.["0.9"] ?? "-"}`).join(", ");
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    config,
    width: 900,
    height: 480,
    title: {
      text: `Expert cache: hit rate vs capacity, ${r.model_id}`,
      subtitle: [
        `${r.accesses.toLocaleString("en-US")} expert accesses over ${r.policies[policies[0]!]!.layers.length} layers (order: ${order}), ${r.num_experts} experts, top-${r.top_k}`,
        `one cache of C experts per layer, starting empty; hit rate = hits / accesses, all layers together`,
        Object.keys(targets).includes("0.9") ? `capacity for a 90% hit rate: ${t90}` : "",
      ].filter(Boolean),
    },
    data: { values },
    // A line between capacities that were not simulated (--capacities 4,8,16) would show hit
    // rates nobody computed: points only, unless the capacities run 1, 2, 3, ... without a gap.
    mark: contiguous(r.capacities)
      ? { type: "line", point: r.capacities.length <= 64, strokeWidth: 2 }
      : { type: "point", filled: true, size: 90 },
    encoding: {
      x: {
        field: "capacity",
        type: "quantitative",
        title: "Capacity C (experts cached per layer)",
        scale: { domain: [0, r.capacities[r.capacities.length - 1]!] },
        // Capacities are whole experts: ticks at the simulated ones when few, else whole numbers.
        axis: r.capacities.length <= 24 ? { values: r.capacities, format: "d" } : { format: "d", tickMinStep: 1 },
      },
      y: {
        field: "hit_rate",
        type: "quantitative",
        title: "Hit rate",
        scale: { domain: [0, 1] },
        axis: { format: ".0%" },
      },
      color: {
        field: "policy",
        type: "nominal",
        title: "Policy",
        scale: { domain: policies.map((p) => LABEL[p]!), range: policies.map((p) => COLOR[p]!) },
        legend: { orient: "bottom-right", labelLimit: 400 },
      },
      strokeDash: {
        field: "dashed",
        type: "nominal",
        scale: {
          domain: [false, true],
          range: [
            [1, 0],
            [6, 4],
          ],
        },
        legend: null,
      },
    },
  };
}

/** True when the capacities are consecutive integers (each simulated, so a line between them is data). */
export function contiguous(capacities: readonly number[]): boolean {
  return capacities.every((c, i) => i === 0 || c === capacities[i - 1]! + 1);
}
