// serving_latency.png: TTFT and ITL percentiles vs load, the log pass next to the no-log pass.
// Values come from serving.json's comparison (medians over repeats); nothing is computed here.
import path from "node:path";
import type { TopLevelSpec } from "vega-lite";
import type { ComparedMetric, ServingReport } from "../serving/serving-json.js";
import { config } from "./specs.js";

export const SERVING_PNG = "serving_latency.png";

const PANELS: Array<[ComparedMetric, string]> = [
  ["ttft_p50_s", "TTFT p50"],
  ["ttft_p99_s", "TTFT p99"],
  ["itl_p50_s", "ITL p50"],
  ["itl_p99_s", "ITL p99"],
];
const PASS_LABEL = {
  no_log: "no-log (capture off)",
  log: "log (VLLM_LOG_MOE set)",
  log_paused: "capture paused (VLLM_LOG_MOE_PAUSED=1)",
  vllm_capture: "vLLM's own capture (--enable-return-routed-experts)",
} as const;
const PASS_SHORT = { no_log: "no-log", log: "log", log_paused: "paused", vllm_capture: "vLLM-capture" } as const;
const PASS_STYLE = {
  no_log: ["#4c78a8", [1, 0]],
  log: ["#d62728", [6, 3]],
  log_paused: ["#ff7f0e", [1, 3]],
  vllm_capture: ["#7f7f7f", [2, 2]],
} as const;

/** A local model directory by its last part (the title is for a reader, not a path to follow). */
const modelName = (m: string) => (path.isAbsolute(m) ? path.basename(m) : m);

export function servingLatencySpec(r: ServingReport): TopLevelSpec {
  const passes = (["no_log", "log", "log_paused", "vllm_capture"] as const).filter((p) =>
    r.comparison.every((c) => c[p]),
  );
  const values = r.comparison.flatMap((c) =>
    PANELS.flatMap(([metric, panel]) =>
      passes.map((pass) => {
        const v = c[pass]![metric];
        return { panel, level: c.level, pass: PASS_LABEL[pass], ms: v === null ? null : v * 1000 };
      }),
    ),
  );
  const repeats = Math.max(...r.passes.map((p) => p.repeat));
  // one count when every level had the same, else the counts in level order
  const requestsPerLevel = (n: unknown) => (Array.isArray(n) && n.every((x) => x === n[0]) ? String(n[0]) : String(n));
  const levelTitle =
    r.mode === "concurrency" ? "Requests in flight (concurrency)" : "Request rate (requests/s, Poisson)";
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    config: { ...config, header: { labelFontSize: 15, titleFontSize: 14 } },
    title: {
      text: `Serving latency vs load, routes capture on and off: ${modelName(r.model)}`,
      subtitle: [
        `${r.endpoint} endpoint, streaming; ${requestsPerLevel(r.load.num_requests)} requests per level, ${String(r.load.max_tokens)} tokens each; completed requests only`,
        `median over ${repeats} ${passes.length === 2 ? "no-log/log pair" : `${passes.map((p) => PASS_SHORT[p]).join("/")} set`}${repeats === 1 ? "" : "s"} of servers, alternated; percentiles by linear interpolation`,
        ...(typeof r.load.toggle_capture_blocks === "number"
          ? [
              `each level in ${r.load.toggle_capture_blocks} blocks; every server's points from the blocks where the log server's capture was on (paused in the others)`,
            ]
          : []),
      ],
    },
    data: { values },
    facet: { column: { field: "panel", type: "nominal", sort: PANELS.map((p) => p[1]), title: null } },
    spec: {
      width: 260,
      height: 260,
      mark: { type: "line", point: { size: 60 }, strokeWidth: 2 },
      encoding: {
        x: { field: "level", type: "ordinal", title: levelTitle, axis: { labelAngle: 0 } },
        y: { field: "ms", type: "quantitative", title: "Latency (ms)", scale: { zero: true } },
        color: {
          field: "pass",
          type: "nominal",
          title: "Pass",
          scale: { domain: passes.map((p) => PASS_LABEL[p]), range: passes.map((p) => PASS_STYLE[p][0]) },
          legend: { orient: "bottom", labelLimit: 400 },
        },
        strokeDash: {
          field: "pass",
          type: "nominal",
          title: "Pass", // the same title as color: one legend for both
          scale: { domain: passes.map((p) => PASS_LABEL[p]), range: passes.map((p) => [...PASS_STYLE[p][1]]) },
        },
      },
    },
    resolve: { scale: { y: "independent" } },
  };
}
