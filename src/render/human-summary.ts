// The short text summary `hist` and `run` print: the same numbers as summary.json, for a person.
import type { HistSummary } from "../analysis/summary.js";

function pct(x: number | null): string {
  return x === null ? "n/a" : `${(100 * x).toFixed(1)}%`;
}
function num(x: number | null, d = 2): string {
  return x === null ? "n/a" : x.toFixed(d);
}

/** "36 rows (--lenient skipped 245 of 281 route lines: 87.2%)": what was left out stands beside what was counted. */
export function rowsHeadline(s: HistSummary): string {
  const rows = `${s.rows} rows`;
  if (s.skipped_lines === 0) return rows;
  return `${rows} (--lenient skipped ${s.skipped_lines} of ${s.rows + s.skipped_lines} route lines: ${pct(s.skipped_share)})`;
}

export function humanSummary(s: HistSummary): string {
  const o = s.overall;
  const grouping =
    s.grouping === "batches"
      ? `in ${s.batches} batch${s.batches === 1 ? "" : "es"} (--as-batches: req_id/token_idx do not identify requests)`
      : `${s.requests} request${s.requests === 1 ? "" : "s"}`;
  const lines = [
    `${s.source.file}: ${rowsHeadline(s)}, ${grouping}, ${s.layers_logged.length} layers logged` +
      (s.layers_analysed.length < s.layers_logged.length ? ` (analysed: ${s.layers_analysed.join(",")})` : "") +
      `, top-${s.top_k} of ${s.num_experts} experts${s.num_experts_source === "meta" ? "" : " (inferred: max id + 1)"}, ${s.model_id}`,
    `top experts: ${o.top
      .slice(0, 5)
      .map((t) => `${t.expert} (${pct(t.share)})`)
      .join(", ")}`,
    `entropy ${num(o.entropy_bits)} of max ${num(o.max_entropy_bits)} bits (normalized ${num(o.normalized_entropy, 3)})`,
    `imbalance: busiest expert ${num(o.max_over_mean)}x mean load, CV ${num(o.cv)}, Gini ${num(o.gini, 3)}, ` +
      `${o.dead_experts.length} dead expert${o.dead_experts.length === 1 ? "" : "s"}${o.dead_experts.length ? ` (${o.dead_experts.slice(0, 10).join(",")}${o.dead_experts.length > 10 ? ",..." : ""})` : ""}`,
    s.grouping === "batches"
      ? "top-1 repetition between consecutive tokens: not computed (rows grouped as batches)"
      : !s.weights_logged
        ? "top-1 repetition between consecutive tokens and layer transitions: not computed (the log has no topk_weights)"
        : `top-1 repetition between consecutive tokens: ${pct(o.top1_repetition.rate)} (random: ${pct(o.top1_repetition.baseline)})`,
  ];
  if (s.phases) lines.push(`phases: ${s.phases.prefill.rows} prefill rows, ${s.phases.decode.rows} decode rows`);
  if (s.prefix_caching) lines.push("prefix caching was on: prompt positions served from the cache have no rows");
  const t = s.layer_transitions;
  if (t) {
    lines.push(
      `top-1 across consecutive layers (${t.pairs.length} pair${t.pairs.length === 1 ? "" : "s"}): mutual information ${num(t.mean_mutual_information_bits)} bits, ` +
        `${num(t.mean_expected_mi_bits)} by chance, adjusted ${num(t.mean_adjusted_mi)} (0 = independent)`,
    );
  }
  return lines.join("\n") + "\n";
}
