// layer_transitions.png: per logged layer l and the next logged layer, the mutual information between
// a token's top-1 experts in the two next to what independent routing would show by chance, and the
// transition matrix of the most dependent pair. Values come from summary.json.
import type { TopLevelSpec } from "vega-lite";
import type { HistSummary } from "../analysis/summary.js";
import type { LayerPairTransitions, TransitionsSummary } from "../analysis/transitions.js";
import { config } from "./specs.js";

const f2 = (x: number | null) => (x === null ? "n/a" : x.toFixed(2));
/** A row of the matrix resting on fewer tokens than this is drawn faint: its percentages say little. */
export const FEW_TOKENS = 10;

/** Expert ids to label on an axis `px` pixels long: every one when they fit, else every n-th (>= 22 px apart). */
export function tickEvery(E: number, px: number): number[] {
  const step = Math.max(1, Math.ceil((22 * E) / px));
  const nice = [1, 2, 5, 10, 20, 50, 100, 200, 500].find((n) => n >= step) ?? step;
  return Array.from({ length: Math.ceil(E / nice) }, (_, i) => i * nice);
}

const MI = "mutual information I(top-1 in l; top-1 in the next logged layer)";
const CHANCE = "expected by chance (independent, same marginals)";

export function transitionsSpec(s: HistSummary, t: TransitionsSummary): TopLevelSpec {
  const lines = t.pairs.flatMap((p) => [
    { pair: p.from_layer, what: MI, bits: p.mutual_information_bits },
    { pair: p.from_layer, what: CHANCE, bits: p.expected_mi_bits },
  ]);
  const best = t.pairs.reduce<LayerPairTransitions | null>(
    (b, p) => (p.matrix && (b === null || (p.adjusted_mi ?? -1) > (b.adjusted_mi ?? -1)) ? p : b),
    null,
  );
  // Every cell of a row with tokens, 0 included, so that 0% is drawn in the legend's 0% colour;
  // rows without tokens stay blank. A row of few tokens (a 100% on 1 token) is drawn faint.
  const cells: { from: number; to: number; p: number; tokens: number; few: boolean }[] = [];
  if (best?.matrix) {
    best.matrix.forEach((row, a) => {
      const n = row.reduce((x, y) => x + y, 0);
      if (n > 0) row.forEach((c, b) => cells.push({ from: a, to: b, p: c / n, tokens: n, few: n < FEW_TOKENS }));
    });
  }
  const E = s.num_experts;
  const expertTicks = tickEvery(E, Math.max(240, Math.min(560, 8 * E)));
  const side = Math.min(560, Math.max(240, 8 * E));
  const left = {
    title: { text: "Dependence of top-1 experts across consecutive layers", fontSize: 15 },
    width: 520,
    height: side,
    data: { values: lines },
    mark: { type: "line" as const, point: true, strokeWidth: 2 },
    encoding: {
      x: {
        field: "pair",
        type: "quantitative" as const,
        title: "Layer pair (l -> next logged layer), by l",
        axis: { tickMinStep: 1, format: "d" },
      },
      y: { field: "bits", type: "quantitative" as const, title: "Bits" },
      color: {
        field: "what",
        type: "nominal" as const,
        title: null,
        scale: { domain: [MI, CHANCE], range: ["#d62728", "#7f7f7f"] },
        legend: { orient: "bottom" as const, direction: "vertical" as const, labelLimit: 420 },
      },
      strokeDash: {
        field: "what",
        type: "nominal" as const,
        scale: {
          domain: [MI, CHANCE],
          range: [
            [1, 0],
            [5, 4],
          ],
        },
        legend: null,
      },
    },
  };
  const right = best
    ? [
        {
          title: {
            text: `Layer ${best.from_layer} -> ${best.to_layer}: P(top-1 in ${best.to_layer} | top-1 in ${best.from_layer})`,
            fontSize: 15,
          },
          width: side,
          height: side,
          data: { values: cells },
          mark: { type: "rect" as const },
          encoding: {
            x: {
              field: "to",
              type: "ordinal" as const,
              title: `Top-1 expert in layer ${best.to_layer}`,
              scale: { domain: Array.from({ length: E }, (_, i) => i) },
              axis: { values: expertTicks, labelAngle: 0 },
            },
            y: {
              field: "from",
              type: "ordinal" as const,
              title: `Top-1 expert in layer ${best.from_layer}`,
              scale: { domain: Array.from({ length: E }, (_, i) => i) },
              axis: { values: expertTicks },
            },
            color: {
              field: "p",
              type: "quantitative" as const,
              title: "P(to | from)",
              scale: { scheme: "viridis", domain: [0, 1] },
              legend: { format: ".0%" },
            },
            opacity: { condition: { test: "datum.few", value: 0.3 }, value: 1 },
            tooltip: [{ field: "from" }, { field: "to" }, { field: "p", format: ".1%" }, { field: "tokens" }],
          },
        },
      ]
    : [];
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    config,
    title: {
      text: `Layer-to-layer routing: ${s.model_id}`,
      subtitle: [
        `${t.pairs.length} consecutive layer pair${t.pairs.length === 1 ? "" : "s"}, ${t.pairs[0]!.tokens.toLocaleString("en-US")} tokens each; top-${s.top_k} of ${E} experts`,
        `mean over pairs: MI ${f2(t.mean_mutual_information_bits)} bits, by chance ${f2(t.mean_expected_mi_bits)} bits, adjusted MI ${f2(t.mean_adjusted_mi)} (0 = independent, 1 = determined)`,
        best
          ? `right: the pair with the highest adjusted MI (${f2(best.adjusted_mi)}); each row sums to 100%; rows of fewer than ${FEW_TOKENS} tokens faint, rows of none blank`
          : "",
      ].filter(Boolean),
    },
    hconcat: [left, ...right],
  };
}
