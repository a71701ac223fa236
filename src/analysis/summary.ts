// Turns a finished tally into the summary object (summary.json, `hist --json`). Pure.
import type { RoutesMeta } from "../routes/schema.js";
import { hasWeights, noTop1Reason } from "../routes/weights.js";
import type { RequestRows } from "../routes/coverage.js";
import type { FileShare } from "../routes/read-log.js";
import type { RouteTally } from "./tally.js";
import { describeCounts, entropyBits, repetition, topPairs, type TopPair, type Repetition } from "./metrics.js";
import { TRANSITION_BUDGET, transitionsSummary, type TransitionsSummary } from "./transitions.js";

export const SUMMARY_SCHEMA = "moe-prof.summary/1";
const TOP_EXPERTS = 10;
const TOP_PAIRS = 10;

export type ScopeMetrics = ReturnType<typeof describeCounts> & {
  rows: number;
  counts: number[];
  top_pairs: TopPair[] | null;
  top1_repetition: Repetition;
};

export interface LayerSummary extends ScopeMetrics {
  layer: number;
}

export interface PhaseSummary {
  rows: number;
  counts: number[];
  entropy_bits: number;
}

export interface RequestSummary extends RequestRows {
  prefill_rows: number | null;
  decode_rows: number | null;
}

export interface HistSummary {
  schema: string;
  /** With several files read as one (README "Many files as one log"): `files`, each file's share. */
  source: { file: string; bytes: number; files?: FileShare[] };
  model_id: string;
  vllm_version: string;
  torch_version: string;
  device: string;
  seed: number;
  top_k: number;
  num_experts: number;
  /** "meta" when the log declares num_experts, else "max_id_plus_1" (inferred from the ids seen). */
  num_experts_source: "meta" | "max_id_plus_1";
  layers_logged: number[];
  /** Layers the metrics cover (`--layers`), all logged layers by default. */
  layers_analysed: number[];
  /** Route lines accepted in the whole file. */
  rows: number;
  /** "batches" (`hist --as-batches`): rows grouped as written, for logs whose req_id/token_idx do not identify requests. */
  grouping: "requests" | "batches";
  /** Distinct req_id values; null when grouped as batches (they do not identify requests then). */
  requests: number | null;
  /** With grouping "batches": how many batches the rows were grouped into; else null. */
  batches: number | null;
  /** Lines skipped by `--lenient` (0 otherwise). */
  skipped_lines: number;
  /** skipped_lines / (rows + skipped_lines): the share of route lines left out (0 when none). */
  skipped_share: number;
  overall: ScopeMetrics;
  layers: LayerSummary[];
  /** Rows and counts by phase over the analysed layers; null when no row has `phase`. */
  phases: { prefill: PhaseSummary; decode: PhaseSummary; rows_without_phase: number } | null;
  per_request: RequestSummary[];
  /** Top-1 -> top-1 from each logged layer to the next logged one, both analysed; null when there are none. */
  layer_transitions: TransitionsSummary | null;
  /** The meta line says vLLM's prefix caching was on: cached prompt positions have no rows. */
  prefix_caching: boolean;
  /** False when the rows carry no topk_weights (an imported capture): top-1 figures are null. */
  weights_logged: boolean;
  /** `moe-prof import`: the format the log was converted from; null for a capture's own log. */
  imported_from: string | null;
  notes: string[];
}

export interface SummaryInput {
  meta: RoutesMeta;
  tally: RouteTally;
  requests: RequestRows[];
  rows: number;
  skippedLines: number;
  source: { file: string; bytes: number };
  /** Rows were grouped into this many batches (`--as-batches`); `requests` are then those batches. */
  batches?: number | null;
}

/** Copies the leading E x E block out of a cap x cap matrix. */
function restride(m: Float64Array, cap: number, E: number): Float64Array {
  if (cap === E) return m;
  const out = new Float64Array(E * E);
  for (let r = 0; r < E; r++) out.set(m.subarray(r * cap, r * cap + E), r * E);
  return out;
}

function scope(
  counts: Float64Array,
  rows: number,
  pairs: Float64Array | null,
  E: number,
  rep: [number, number],
): ScopeMetrics {
  return {
    rows,
    counts: Array.from(counts),
    ...describeCounts(counts, TOP_EXPERTS),
    top_pairs: pairs ? topPairs(pairs, E, counts, rows, TOP_PAIRS) : null,
    top1_repetition: repetition(rep[0], rep[1], E),
  };
}

export function buildSummary(input: SummaryInput): HistSummary {
  const { meta, tally } = input;
  const L = tally.layerCount;
  const notes = [...tally.notes];

  let E: number;
  let source: HistSummary["num_experts_source"];
  if (meta.num_experts !== undefined) {
    E = meta.num_experts;
    source = "meta";
  } else {
    let maxId = -1;
    for (const c of tally.layerCounts) for (let i = c.length - 1; i > maxId; i--) if (c[i]! > 0) maxId = i;
    E = maxId + 1;
    source = "max_id_plus_1";
    notes.push(
      `num_experts is not in the meta line: using max expert id + 1 = ${E} (experts above it that were never used cannot be seen)`,
    );
  }
  if (meta.prefix_caching === true)
    notes.push(
      "prefix caching was on: prompt positions served from vLLM's prefix cache were never computed and have no rows (a request's first row is its first computed position)",
    );
  if (!hasWeights(meta))
    notes.push(
      `${noTop1Reason(meta)}: top-1 repetition and layer transitions (top-1 to top-1) need topk_weights and are not given; expert counts, co-activation, entropy and imbalance do not`,
    );
  if (tally.transitions.tooLarge)
    notes.push(
      `layer transitions not counted: ${E} experts need ${E} x ${E} counters per layer pair, more than the ${TRANSITION_BUDGET.toLocaleString("en-US")} allowed`,
    );

  const cap = tally.cap;
  const cut = (a: Float64Array) => a.subarray(0, E);

  const layers: LayerSummary[] = [];
  const overallCounts = new Float64Array(E);
  const overallPairs = tally.layerPairs
    ? new Float64Array(E * E)
    : tally.overallPairs
      ? restride(tally.overallPairs, cap, E)
      : null;
  let overallRows = 0;
  let repPairs = 0;
  let repRepeats = 0;
  for (let li = 0; li < L; li++) {
    if (!tally.selected[li]) continue;
    const counts = cut(tally.layerCounts[li]!);
    const rows = tally.layerRows[li]!;
    const pairs = tally.layerPairs ? restride(tally.layerPairs[li]!, cap, E) : null;
    for (let i = 0; i < E; i++) overallCounts[i]! += counts[i]!;
    if (pairs && overallPairs) for (let i = 0; i < pairs.length; i++) overallPairs[i]! += pairs[i]!;
    overallRows += rows;
    repPairs += tally.repPairs[li]!;
    repRepeats += tally.repRepeats[li]!;
    layers.push({
      layer: meta.layers_logged[li]!,
      ...scope(counts, rows, pairs, E, [tally.repPairs[li]!, tally.repRepeats[li]!]),
    });
  }

  const { prefill, decode, none } = tally.phaseRows;
  const phase = (rows: number, c: Float64Array): PhaseSummary => {
    const counts = cut(c);
    return { rows, counts: Array.from(counts), entropy_bits: entropyBits(counts) };
  };
  const phases =
    prefill + decode > 0
      ? {
          prefill: phase(prefill, tally.phaseCounts.prefill),
          decode: phase(decode, tally.phaseCounts.decode),
          rows_without_phase: none,
        }
      : null;

  const asBatches = input.batches !== undefined && input.batches !== null;
  if (asBatches)
    notes.push(
      `--as-batches: rows counted as written and grouped into ${input.batches} batch${input.batches === 1 ? "" : "es"} (token_idx restarting); req_id and token_idx do not identify requests or positions in this log, so requests, per-request figures and top-1 repetition are not given`,
    );
  const anyPhase = tally.reqPhaseRows.prefill.length + tally.reqPhaseRows.decode.length > 0;
  const per_request = asBatches
    ? []
    : input.requests.map((r, i) => ({
        ...r,
        prefill_rows: anyPhase ? (tally.reqPhaseRows.prefill[i] ?? 0) : null,
        decode_rows: anyPhase ? (tally.reqPhaseRows.decode[i] ?? 0) : null,
      }));

  return {
    schema: SUMMARY_SCHEMA,
    source: input.source,
    model_id: meta.model_id,
    vllm_version: meta.vllm_version,
    torch_version: meta.torch_version,
    device: meta.device,
    seed: meta.seed,
    top_k: meta.top_k,
    num_experts: E,
    num_experts_source: source,
    layers_logged: [...meta.layers_logged],
    layers_analysed: layers.map((l) => l.layer),
    rows: input.rows,
    grouping: asBatches ? "batches" : "requests",
    requests: asBatches ? null : input.requests.length,
    batches: asBatches ? input.batches! : null,
    skipped_lines: input.skippedLines,
    skipped_share: input.skippedLines > 0 ? input.skippedLines / (input.rows + input.skippedLines) : 0,
    overall: scope(overallCounts, overallRows, overallPairs, E, [repPairs, repRepeats]),
    layers,
    phases,
    per_request,
    layer_transitions: transitionsSummary(tally.transitions, meta.layers_logged, E),
    prefix_caching: meta.prefix_caching === true,
    weights_logged: hasWeights(meta),
    imported_from: meta.imported_from ?? null,
    notes,
  };
}
