// serving.json: what `moe-prof serve` measured, per pass and load level, and log vs no-log per
// level. Defined once here; the latency picture (render/serving-spec.ts) reads it.
import { median } from "../passes/timing.js";
import type { LoadSummary } from "./load-summary.js";
import type { Attribution } from "./attribution.js";
import type { Endpoint, RequestRecord } from "./stream-request.js";
import type { BlockResult, ServedPass } from "./serve-pass.js";

export const SERVING_FILE = "serving.json";

export interface ServingInfo {
  model: string;
  endpoint: Endpoint;
  mode: "concurrency" | "rate";
  levels: number[];
  load: Record<string, unknown>;
  moe_prof_version: string;
}

/** One request as serving.json lists it (its ITLs are in the level's pooled distribution). */
function requestRow(r: RequestRecord) {
  return {
    response_id: r.response_id,
    prompt_index: r.prompt_index,
    status: r.status,
    sent_at_s: r.sent_at_s,
    ttft_s: r.ttft_s,
    e2e_s: r.e2e_s,
    output_tokens: r.output_tokens,
    tokens_from: r.tokens_from,
    prompt_tokens: r.prompt_tokens,
    finish_reason: r.finish_reason,
    ...(r.error ? { error: r.error } : {}),
  };
}

/** The numbers compared between log and no-log passes (medians over repeats). */
const COMPARED = {
  ttft_p50_s: (s: LoadSummary) => s.ttft_s.p50,
  ttft_p99_s: (s: LoadSummary) => s.ttft_s.p99,
  itl_p50_s: (s: LoadSummary) => s.itl_s.p50,
  itl_p99_s: (s: LoadSummary) => s.itl_s.p99,
  e2e_p50_s: (s: LoadSummary) => s.e2e_s.p50,
  output_tokens_per_s: (s: LoadSummary) => s.output_tokens_per_s,
  requests_per_s: (s: LoadSummary) => s.requests_per_s,
};
export type ComparedMetric = keyof typeof COMPARED;
type Metrics = Record<ComparedMetric, number | null>;

export interface LevelComparison {
  level: number;
  no_log: Metrics;
  log: Metrics;
  /** log / no-log: > 1 is slower for latencies, < 1 is slower for throughputs. */
  log_over_no_log: Metrics;
  /** With `--paused-capture`: the capture installed but paused (its GPU part only), and it / no-log. */
  log_paused?: Metrics;
  log_paused_over_no_log?: Metrics;
  /** With `--vllm-capture`: vLLM's own routed-experts capture, and it / no-log. */
  vllm_capture?: Metrics;
  vllm_capture_over_no_log?: Metrics;
  /** With `--toggle-capture`: within each log server, each block pair's on / paused, median over
   * the pairs of every log pass (the host's part of the cost, without server-to-server spread);
   * only pairs whose two blocks completed; each pair's ratios in the order sent. */
  log_over_paused_same_server?: {
    pairs: number;
    ratio: Metrics;
    per_pair: Array<Metrics>;
  };
}

/** The arms beside log that are compared with no-log when their servers ran. */
const EXTRA_ARMS = ["log_paused", "vllm_capture"] as const;

function medianOrNull(xs: Array<number | null>): number | null {
  const v = xs.filter((x): x is number => x !== null);
  return v.length ? median(v) : null;
}

/** A toggled level's blocks two by two (on/paused or paused/on), as [on, paused] summaries; a
 * pair with a block that did not complete (time limit, failures) is left out. */
function blockPairs(blocks: readonly BlockResult[]): Array<[LoadSummary, LoadSummary]> {
  const out: Array<[LoadSummary, LoadSummary]> = [];
  for (let i = 0; i + 1 < blocks.length; i += 2) {
    const [a, b] = [blocks[i]!, blocks[i + 1]!];
    if (a.capture === b.capture || !a.summary.complete || !b.summary.complete) continue;
    out.push(a.capture === "on" ? [a.summary, b.summary] : [b.summary, a.summary]);
  }
  return out;
}

const metricsOf = (s: LoadSummary) =>
  Object.fromEntries(Object.entries(COMPARED).map(([k, f]) => [k, f(s)])) as Metrics;

/** Each metric's median over several measurements (repeats of an arm, or block pairs' ratios). */
const medianPerMetric = (ms: Metrics[]) =>
  Object.fromEntries(
    Object.keys(COMPARED).map((k) => [k, medianOrNull(ms.map((m) => m[k as ComparedMetric]))]),
  ) as Metrics;

/** b / a per metric (null where either is missing or a is 0). */
function over(b: Metrics, a: Metrics) {
  return Object.fromEntries(
    Object.keys(COMPARED).map((k) => {
      const [x, y] = [a[k as ComparedMetric], b[k as ComparedMetric]];
      return [k, x !== null && y !== null && x > 0 ? y / x : null];
    }),
  ) as Metrics;
}

export function compareLevels(passes: ServedPass[], levels: number[]): LevelComparison[] {
  return levels.map((level) => {
    const of = (kind: ServedPass["planned"]["pass"]) => {
      const sums = passes
        .filter((p) => p.planned.pass === kind)
        .flatMap((p) => p.levels.filter((l) => l.level === level).map((l) => l.summary));
      return medianPerMetric(sums.map(metricsOf));
    };
    const [noLog, log] = [of("no_log"), of("log")];
    const pairs = passes
      .filter((p) => p.planned.pass === "log")
      .flatMap((p) => p.levels.filter((l) => l.level === level).flatMap((l) => blockPairs(l.blocks ?? [])));
    const row: LevelComparison = { level, no_log: noLog, log, log_over_no_log: over(log, noLog) };
    for (const arm of EXTRA_ARMS) {
      if (!passes.some((p) => p.planned.pass === arm)) continue;
      const measured = of(arm);
      row[arm] = measured;
      row[`${arm}_over_no_log`] = over(measured, noLog);
    }
    if (pairs.length) {
      const perPair = pairs.map(([on, paused]) => over(metricsOf(on), metricsOf(paused)));
      row.log_over_paused_same_server = {
        pairs: pairs.length,
        ratio: medianPerMetric(perPair),
        per_pair: perPair,
      };
    }
    return row;
  });
}

export function servingJson(
  info: ServingInfo,
  passes: ServedPass[],
  attribution: Map<ServedPass, Attribution>,
  routesFiles: Map<ServedPass, string>,
  /** A pass that failed: what it measured before, and why. serving.json is then incomplete. */
  failure: { partial: Partial<ServedPass>; error: string } | null = null,
) {
  const levelRows = (levels: ServedPass["levels"], pass: ServedPass["planned"]["pass"] | undefined) =>
    levels.map((l) =>
      l.blocks
        ? {
            level: l.level,
            summary_of:
              pass === "log"
                ? "the blocks with the capture on"
                : "the blocks at the positions where the log pass has its capture on",
            ...l.summary,
            blocks: l.blocks.map((b, i) => ({ block: i + 1, capture: b.capture, ...b.summary })),
            sent_at_s_from: "the start of the request's block",
            requests_detail: l.blocks.flatMap((b, i) =>
              b.records.map((r) => ({ ...requestRow(r), block: i + 1, capture: b.capture })),
            ),
          }
        : { level: l.level, ...l.summary, requests_detail: l.records.map(requestRow) },
    );
  return {
    schema: "moe-prof/serving/1",
    ...info,
    percentiles: "linear interpolation between the two nearest order statistics (numpy's default)",
    itl: "every gap between consecutive token chunks of completed requests, pooled per level",
    complete: failure === null && passes.every((p) => p.levels.every((l) => l.summary.complete)),
    passes: passes.map((p) => ({
      pass: p.planned.pass,
      repeat: p.planned.repeat,
      command: p.command,
      startup_s: p.startup_s,
      stopped_by: p.stopped_by,
      routes_log: p.routes_log === null ? null : { file: routesFiles.get(p) ?? null, state: p.routes_log },
      warmup_response_ids: p.warmup.map((r) => r.response_id),
      levels: levelRows(p.levels, p.planned.pass),
      attribution: attribution.get(p) ?? null,
    })),
    comparison: compareLevels(passes, info.levels),
    failed_pass:
      failure === null
        ? null
        : {
            pass: failure.partial.planned?.pass,
            repeat: failure.partial.planned?.repeat,
            error: failure.error,
            levels: levelRows(failure.partial.levels ?? [], failure.partial.planned?.pass),
          },
  };
}

export type ServingReport = ReturnType<typeof servingJson>;
