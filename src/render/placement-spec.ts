// placement.png: per policy, GPU load imbalance (max/mean) vs GPU count, over the whole log and
// per engine step, and the share of a row's top-k that stays on its top-1 expert's GPU.
// Values come from placement.json; nothing is computed here.
import type { TopLevelSpec } from "vega-lite";
import type { PlacementReport } from "../analysis/placement-report.js";
import { PLACEMENT_POLICIES } from "../analysis/placement.js";
import { config } from "./specs.js";

const COLOR: Record<string, string> = {
  contiguous: "#4c78a8",
  balanced: "#f58518",
  replicated: "#54a24b",
  coact: "#b279a2",
};

export function placementSpec(r: PlacementReport): TopLevelSpec {
  const values = PLACEMENT_POLICIES.flatMap((policy) =>
    r.policies[policy].map((e) => ({
      policy:
        e.redundant === undefined
          ? policy
          : `${policy} (R=${r.policies.replicated.map((x) => x.redundant).join(",")} redundant slots)`,
      key: policy,
      gpus: e.gpus,
      whole: e.max_over_mean,
      step: e.step_max_over_mean,
      local: e.top1_gpu_share,
    })),
  );
  const names = [...new Set(values.map((v) => v.policy))];
  const color = {
    field: "policy",
    type: "nominal" as const,
    title: "Policy",
    scale: { domain: names, range: PLACEMENT_POLICIES.map((p) => COLOR[p]!) },
    legend: { orient: "bottom" as const, labelLimit: 300 },
  };
  const x = { field: "gpus", type: "ordinal" as const, title: "GPUs (expert-parallel ranks)", axis: { labelAngle: 0 } };
  const stepKnown = values.some((v) => v.step !== null);
  const panel = (field: string, title: string, yTitle: string, format: string, domain?: [number, number]) => ({
    title: { text: title, fontSize: 15 },
    width: 330,
    height: 320,
    mark: { type: "line" as const, point: { size: 60 }, strokeWidth: 2 },
    encoding: {
      x,
      y: {
        field,
        type: "quantitative" as const,
        title: yTitle,
        scale: domain ? { domain } : { zero: false },
        axis: { format },
      },
      color,
    },
  });
  const layers = r.policies.balanced[0]!.layers.length;
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    config,
    title: {
      text: `Expert-parallel placement: ${r.model_id}`,
      subtitle: [
        `${r.scored_on.kind === "held-out" ? "plans from " : ""}${r.rows.toLocaleString("en-US")} route rows, ${layers} layers, top-${r.top_k} of ${r.num_experts} experts; GPU load = sum of its experts' (replica shares') counts, per layer`,
        `max/mean = busiest GPU over the mean GPU load (1 = even), averaged over layers${stepKnown ? "; per step: the same for each engine step's tokens, averaged over steps" : ""}`,
        r.scored_on.kind === "in-sample"
          ? "in-sample: every plan is scored on the log it was made from (new traffic will look less even)"
          : `held-out: plans made from ${r.source.file}, scored on ${r.scored_on.file} (${r.scored_on.rows.toLocaleString("en-US")} rows)`,
      ],
    },
    data: { values },
    hconcat: [
      panel("whole", "Whole log: max / mean GPU load", "max / mean", ".2f"),
      ...(stepKnown ? [panel("step", "Per engine step: max / mean GPU load", "max / mean", ".2f")] : []),
      panel("local", "Top-k kept on the top-1 expert's GPU", "share of assignments", ".0%", [0, 1]),
    ],
  };
}
