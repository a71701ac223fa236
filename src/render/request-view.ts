// `hist --request ID`: the request's routes as a table (stdout) and as a picture, tokens x
// layers, each cell coloured by its top-1 expert. Values come from RequestRoutes; nothing is
// computed here beyond the layout.
import type { TopLevelSpec } from "vega-lite";
import type { RequestRoutes } from "../analysis/request-routes.js";
import { config } from "./specs.js";

/** Past this many cells a side the picture stops growing: cells get thinner. */
const MAX_SIDE = 3000;

/** The file name of the picture: the id with anything but letters, digits, '.', '-' and '_' as '_'. */
export function requestPictureName(reqId: string): string {
  return `request_${reqId.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 100)}.png`;
}

/** One line per token: position, phase, token id, then per layer the experts by weight (top-1 first). */
export function requestTable(r: RequestRoutes): string {
  const head = ["token", "phase", "token_id", ...r.layers.map((l) => `L${l}`)];
  const rows = r.tokens.map((t) => [
    String(t.token_idx),
    t.phase ?? "-",
    t.token_id === null ? "-" : String(t.token_id),
    ...t.experts.map((e) => (e === null ? "-" : e.join(","))),
  ]);
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(width[i]!))
      .join("  ")
      .trimEnd();
  return (
    `request ${JSON.stringify(r.req_id)} of ${r.source.file}: ${r.tokens.length} token${r.tokens.length === 1 ? "" : "s"} x ${r.layers.length} layer${r.layers.length === 1 ? "" : "s"}, top-${r.top_k} of ${r.num_experts} experts, ${r.model_id}\n` +
    `each cell: the experts by weight, top-1 first\n` +
    [line(head), ...rows.map(line)].join("\n") +
    "\n"
  );
}

export function requestSpec(r: RequestRoutes): TopLevelSpec {
  const values = r.tokens.flatMap((t) =>
    r.layers.flatMap((layer, li) => {
      const e = t.experts[li];
      return e === null || e === undefined ? [] : [{ token: t.token_idx, layer, top1: e[0]!, phase: t.phase ?? "" }];
    }),
  );
  const cell = Math.max(2, Math.min(16, Math.floor(MAX_SIDE / Math.max(1, r.tokens.length))));
  const rowH = Math.max(6, Math.min(24, Math.floor(900 / Math.max(1, r.layers.length))));
  const prefill = r.tokens.filter((t) => t.phase === "prefill").length;
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    config,
    title: {
      text: `Request ${JSON.stringify(r.req_id)}: top-1 expert per token and layer`,
      subtitle: [
        `${r.source.file}, ${r.model_id}: ${r.tokens.length} tokens${prefill ? ` (${prefill} prefill)` : ""} x ${r.layers.length} layers, top-${r.top_k} of ${r.num_experts} experts`,
        "colour: the id of the expert with the largest weight (a run of one colour along a row: the same expert token after token)",
      ],
    },
    width: Math.max(300, cell * r.tokens.length),
    height: rowH * r.layers.length,
    data: { values },
    mark: { type: "rect" },
    encoding: {
      x: {
        field: "token",
        type: "ordinal",
        title: "token_idx",
        axis: { labelOverlap: true, labelAngle: 0, values: tickValues(r.tokens.map((t) => t.token_idx)) },
      },
      y: { field: "layer", type: "ordinal", title: "Layer", sort: "ascending", axis: { labelOverlap: true } },
      color: {
        field: "top1",
        type: "quantitative",
        title: "top-1 expert",
        scale: { scheme: "turbo", domain: [0, Math.max(1, r.num_experts - 1)] },
        legend: { format: "d" },
      },
      tooltip: [{ field: "token" }, { field: "layer" }, { field: "top1", title: "top-1 expert" }, { field: "phase" }],
    },
  };
}

/** About 20 evenly spaced labels for the token axis (every label would overlap past ~60 tokens). */
function tickValues(tokens: number[]): number[] {
  const step = Math.max(1, Math.ceil(tokens.length / 20));
  return tokens.filter((_, i) => i % step === 0);
}
