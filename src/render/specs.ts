// Vega-Lite specs for the two pictures. Values come from the summary; nothing is computed here
// beyond what the spec itself states (the heatmap's per-layer share transform).
import type { TopLevelSpec } from "vega-lite";
import type { HistSummary } from "../analysis/summary.js";
import { rowsHeadline } from "./human-summary.js";

/** Past this many pixels a side, bars and cells get thinner instead of the picture wider. */
const MAX_SIDE = 4000;

/** Fonts every Debian/Ubuntu box with fonts-dejavu-core has; generic fallback after. */
export const FONT = "DejaVu Sans, sans-serif";
const HIGHLIGHT = "#d62728";
const BASE = "#4c78a8";
/** How many of the busiest experts the histogram colours: 5, fewer for small expert counts. */
export function highlightedExperts(numExperts: number): number {
  return Math.max(1, Math.min(5, Math.ceil(numExperts / 10)));
}

export const config = {
  font: FONT,
  background: "white",
  padding: 16,
  view: { stroke: null },
  title: { fontSize: 20, subtitleFontSize: 14, subtitleColor: "#444", anchor: "start" as const, offset: 12 },
  axis: { labelFontSize: 12, titleFontSize: 14, titlePadding: 10, gridColor: "#e6e6e6" },
  legend: { labelFontSize: 12, titleFontSize: 13, padding: 4 },
};

/**
 * Past these many bars or cells, experts (and layers, in the heatmap) are drawn in equal groups:
 * Vega builds one scene item per mark, and 4 million heatmap cells (64 layers x 65,536 experts)
 * took minutes and 4.5 GB; 65,536 bars take ~6 s. The numbers themselves are in summary.json.
 */
export const MAX_BARS = 1024;
export const MAX_HEATMAP_COLUMNS = 512;
export const MAX_HEATMAP_ROWS = 128;

/** How many consecutive items share a bar or cell so that at most `max` are drawn. */
export function groupSize(n: number, max: number): number {
  return Math.max(1, Math.ceil(n / max));
}

function fmt(x: number | null, digits = 2): string {
  return x === null ? "n/a" : x.toFixed(digits);
}

/** Rows as counted, with what --lenient left out and how --as-batches grouped them. */
function rowsLabel(s: HistSummary): string {
  const rows = `${s.rows.toLocaleString("en-US")} route rows`;
  const skipped = s.skipped_lines > 0 ? ` ${rowsHeadline(s).replace(/^\S+ rows /, "")}` : "";
  const batches =
    s.grouping === "batches"
      ? ` counted as written in ${s.batches} batch${s.batches === 1 ? "" : "es"} (--as-batches)`
      : "";
  return rows + skipped + batches;
}

function scopeLabel(s: HistSummary): string {
  const all = s.layers_analysed.length === s.layers_logged.length;
  return all ? `all ${s.layers_logged.length} logged layers` : `layers ${s.layers_analysed.join(",")}`;
}

/** The expert axis both pictures share (ids grouped `per` to a column when there are many). */
function expertAxis(per: number) {
  return {
    field: "expert",
    type: "ordinal",
    title: per > 1 ? `Expert id (groups of ${per})` : "Expert id",
    axis: { labelAngle: 0, labelOverlap: "parity" },
  } as const;
}

export function expertHistSpec(s: HistSummary): TopLevelSpec {
  const o = s.overall;
  const nTop = highlightedExperts(s.num_experts);
  const topLabel = `top ${nTop}`;
  const top = new Set(o.top.slice(0, nTop).map((t) => t.expert));
  const rank = new Map(o.top.map((t, i) => [t.expert, i + 1]));
  const per = groupSize(o.counts.length, MAX_BARS);
  const values: { expert: number; count: number; label: string; group: string }[] = [];
  for (let first = 0; first < o.counts.length; first += per) {
    let count = 0;
    const ranks: number[] = [];
    for (let e = first; e < Math.min(first + per, o.counts.length); e++) {
      count += o.counts[e]!;
      if (top.has(e)) ranks.push(rank.get(e)!);
    }
    values.push({
      expert: first,
      count,
      label: ranks.length ? `#${ranks.join(",#")}` : "",
      group: ranks.length ? topLabel : "other",
    });
  }
  const grouped = per > 1 ? ` (bars of ${per} experts, labelled by the first id)` : "";
  const topText = o.top
    .slice(0, nTop)
    .map((t, i) => `#${i + 1} expert ${t.expert} (${(100 * t.share).toFixed(1)}%)`)
    .join(", ");
  const width = Math.min(MAX_SIDE, Math.max(1200, values.length * 10));
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    config,
    width,
    height: 480,
    title: {
      text: `Expert usage: ${s.model_id}`,
      subtitle: [
        `${rowsLabel(s)}, ${scopeLabel(s)}, top-${s.top_k} of ${s.num_experts} experts` +
          (s.num_experts_source === "meta" ? "" : " (num_experts inferred)"),
        `entropy ${fmt(o.entropy_bits)} of max ${fmt(o.max_entropy_bits)} bits, busiest expert ${fmt(o.max_over_mean)}x the mean load, ` +
          `${o.dead_experts.length} never used`,
        `in red, the ${topLabel === "top 1" ? "busiest expert" : `${nTop} busiest experts`}: ${topText}${grouped}`,
      ],
    },
    layer: [
      {
        data: { values },
        mark: { type: "bar", tooltip: false },
        encoding: {
          x: expertAxis(per),
          y: {
            field: "count",
            type: "quantitative",
            title: "Assignments (tokens x top-k slots)",
            axis: { format: ",.0f", tickMinStep: 1 },
          },
          color: {
            field: "group",
            type: "nominal",
            title: null,
            scale: { domain: [topLabel, "other"], range: [HIGHLIGHT, BASE] },
            // The subtitle names the highlighted experts; a legend added little and node-canvas
            // drew its swatches unreliably for small expert counts.
            legend: null,
          },
        },
      },
      {
        data: { values: values.filter((v) => v.group === topLabel) },
        mark: { type: "text", dy: -8, fontSize: 12, fontWeight: "bold", color: HIGHLIGHT },
        encoding: {
          x: { field: "expert", type: "ordinal" },
          y: { field: "count", type: "quantitative" },
          text: { field: "label", type: "nominal" },
        },
      },
      {
        data: { values: [{ mean: o.mean_load, label: "mean load" }] },
        mark: { type: "rule", strokeDash: [6, 4], color: "#333" },
        encoding: { y: { field: "mean", type: "quantitative" } },
      },
      {
        // Right of the plot, at the end of the dashed line: inside it, the label sat on the first bar.
        data: { values: [{ mean: o.mean_load, label: "mean load" }] },
        mark: {
          type: "text",
          align: "left",
          baseline: "middle",
          dx: 6,
          x: { expr: "width" },
          fontSize: 12,
          color: "#333",
        },
        encoding: { y: { field: "mean", type: "quantitative" }, text: { field: "label" } },
      },
    ],
  };
}

/** The heatmap's colour range: shares from 1/RATIO_SPAN to RATIO_SPAN times the uniform share (clamped). */
export const RATIO_SPAN = 16;

export function expertHeatmapSpec(s: HistSummary): TopLevelSpec {
  const perExpert = groupSize(s.num_experts, MAX_HEATMAP_COLUMNS);
  const perLayer = groupSize(s.layers.length, MAX_HEATMAP_ROWS);
  const values: { layer: number; expert: number; count: number }[] = [];
  for (let g = 0; g < s.layers.length; g += perLayer) {
    const sums = new Float64Array(Math.ceil(s.num_experts / perExpert));
    for (const l of s.layers.slice(g, g + perLayer))
      l.counts.forEach((count, expert) => (sums[Math.floor(expert / perExpert)]! += count));
    sums.forEach((count, i) => values.push({ layer: s.layers[g]!.layer, expert: i * perExpert, count }));
  }
  const columns = Math.max(1, Math.ceil(s.num_experts / perExpert));
  const rows = Math.ceil(s.layers.length / perLayer);
  const ticks = [1 / 16, 1 / 4, 1, 4, 16];
  const tickLabel = (x: number) => (x < 1 ? `1/${1 / x}x` : `${x}x`);
  const cell = Math.max(8, Math.min(20, Math.floor(1400 / columns)));
  const grouped = [
    perExpert > 1 ? `experts in groups of ${perExpert}` : "",
    perLayer > 1 ? `layers in groups of ${perLayer}` : "",
  ].filter(Boolean);
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    config,
    width: Math.min(MAX_SIDE, Math.max(800, cell * columns)),
    height: Math.min(MAX_SIDE, Math.max(300, 18 * rows)),
    title: {
      text: `Expert share per layer: ${s.model_id}`,
      subtitle: [
        `each ${perExpert > 1 ? "cell's" : "expert's"} share of its layer's assignments, relative to the uniform share 1/${columns} = ${fmt(100 / columns)}%; ` +
          `${rowsLabel(s)}, top-${s.top_k} of ${s.num_experts} experts` +
          (grouped.length ? ` (${grouped.join(", ")}, labelled by the first)` : ""),
        `colour: log2 scale, blue below and orange above the uniform share, white = uniform; clamped at 1/${RATIO_SPAN}x (incl. never used) and ${RATIO_SPAN}x`,
      ],
    },
    data: { values },
    transform: [
      { joinaggregate: [{ op: "sum", field: "count", as: "layer_total" }], groupby: ["layer"] },
      { calculate: "datum.layer_total > 0 ? datum.count / datum.layer_total : 0", as: "share" },
      // A linear scale of the share hid everything below ~5%: a log2 scale of share / uniform
      // shows under-use as well as over-use; never-used experts sit at the low clamp.
      { calculate: `clamp(datum.share * ${columns}, ${1 / RATIO_SPAN}, ${RATIO_SPAN})`, as: "ratio" },
    ],
    mark: { type: "rect" },
    encoding: {
      x: expertAxis(perExpert),
      y: {
        field: "layer",
        type: "ordinal",
        title: perLayer > 1 ? `Layer (groups of ${perLayer})` : "Layer",
        sort: "ascending",
      },
      color: {
        field: "ratio",
        type: "quantitative",
        title: ["Share / uniform", "(log2 scale)"],
        scale: {
          type: "log",
          base: 2,
          domain: [1 / RATIO_SPAN, RATIO_SPAN],
          domainMid: 1,
          scheme: "blueorange",
          clamp: true,
        },
        legend: {
          values: ticks,
          labelExpr: `{${ticks.map((t) => `'${t}': '${tickLabel(t)}'`).join(", ")}}[datum.value + ''] || datum.label`,
          gradientLength: 240,
          orient: "right",
        },
      },
    },
  };
}
