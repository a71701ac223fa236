// compare.png: per layer, how far apart the two logs' expert shares are (Jensen-Shannon
// distance), and, when rows match, how often they agree. Values come from compare.json.
import type { TopLevelSpec } from "vega-lite";
import type { CompareReport } from "../analysis/compare.js";
import { config } from "./specs.js";

const pct = (x: number | null, d = 1) => (x === null ? "n/a" : `${(100 * x).toFixed(d)}%`);

export function compareSpec(r: CompareReport): TopLevelSpec {
  const jsd = r.distribution.layers.map((l) => ({ layer: l.layer, distance: l.js_distance }));
  const a = r.aligned;
  const agreement = a
    ? a.layers.flatMap((l) => [
        { layer: l.layer, what: "top-1 agreement", value: l.top1_agreement },
        { layer: l.layer, what: "mean top-k overlap", value: l.topk_overlap },
        { layer: l.layer, what: "identical top-k set", value: l.topk_identical },
      ])
    : [];
  const x = {
    field: "layer",
    type: "ordinal" as const,
    title: "Layer",
    axis: { labelAngle: 0, labelOverlap: "parity" as const },
  };
  const width = Math.min(1400, Math.max(900, 22 * r.layers.length));
  const moved = r.distribution.overall.moved
    .slice(0, 5)
    .map((m) => `${m.expert} (${pct(m.share_a, 2)} -> ${pct(m.share_b, 2)})`)
    .join(", ");
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    config,
    title: {
      text: `Routing compared: ${r.a.file} (a) vs ${r.b.file} (b)`,
      subtitle: [
        `a: ${r.a.model_id}, ${r.a.rows.toLocaleString("en-US")} rows; b: ${r.b.model_id}, ${r.b.rows.toLocaleString("en-US")} rows; ${r.layers.length} layers, ${r.num_experts} experts`,
        `expert shares over all layers: Jensen-Shannon distance ${r.distribution.overall.js_distance?.toFixed(3) ?? "n/a"}; moved most: ${moved || "none"}`,
        a
          ? `${a.rows.toLocaleString("en-US")} rows matched on (req_id, token_idx, layer): top-1 agreement ${pct(a.top1_agreement)}, ${a.requests_diverged} of ${a.requests_compared} requests route differently somewhere`
          : "no rows matched on (req_id, token_idx, layer)",
      ],
    },
    vconcat: [
      {
        title: {
          text: "Jensen-Shannon distance between the layer's expert shares (0 = same, 1 = disjoint)",
          fontSize: 15,
        },
        width,
        height: 220,
        data: { values: jsd },
        mark: { type: "bar", color: "#4c78a8" },
        encoding: { x, y: { field: "distance", type: "quantitative", title: "JS distance", axis: { format: ".3f" } } },
      },
      ...(a
        ? [
            {
              title: { text: "Matched rows: how often a and b chose the same experts", fontSize: 15 },
              width,
              height: 240,
              data: { values: agreement },
              mark: { type: "line" as const, point: true, strokeWidth: 2 },
              encoding: {
                x,
                y: {
                  field: "value",
                  type: "quantitative" as const,
                  title: "share of matched rows",
                  scale: { zero: false, domainMax: 1 },
                  axis: { format: ".1%" },
                },
                color: {
                  field: "what",
                  type: "nominal" as const,
                  title: null,
                  scale: {
                    domain: ["top-1 agreement", "mean top-k overlap", "identical top-k set"],
                    range: ["#d62728", "#f58518", "#54a24b"],
                  },
                  legend: { orient: "bottom" as const },
                },
              },
            },
          ]
        : []),
    ],
  };
}
