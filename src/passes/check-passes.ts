// After the passes: validate each log pass's routes, check conservation against the worker's
// token counts, and compare the outputs of no-log and log passes.
import { rm } from "node:fs/promises";
import { analyseRoutesFile } from "../log-scan/analyse-routes.js";
import { parquetTwin } from "./plan.js";
import type { HistSummary } from "../analysis/summary.js";
import { checkConservation, type ConservationResult, type ExpectedRequest } from "../analysis/conservation.js";
import { compareOutputs, type OutputComparison } from "../analysis/compare-outputs.js";
import type { CompletedPass } from "./run-passes.js";

export interface PassChecks {
  /** Summary of the first log pass's routes: the run's result. */
  summary: HistSummary;
  conservation: Array<{ repeat: number } & ConservationResult>;
  agreement: Array<{ repeat: number } & OutputComparison>;
}

export function expectedRows(p: CompletedPass): ExpectedRequest[] {
  const r = p.outcome.result;
  const asyncScheduling = p.outcome.ready.engine.async_scheduling === true;
  return r.prompt_token_counts.map((promptTokens, i) => {
    const outputTokens = r.output_token_ids[i]!.length;
    // vLLM's async scheduling computes one more row for a request that stopped early.
    const stoppedEarly = r.max_tokens !== undefined && outputTokens < r.max_tokens;
    return {
      promptTokens,
      outputTokens,
      cachedTokens: r.num_cached_tokens?.[i] ?? 0,
      extraRows: asyncScheduling && stoppedEarly ? 1 : 0,
    };
  });
}

export async function checkPasses(passes: CompletedPass[]): Promise<PassChecks> {
  let first: HistSummary | null = null;
  const conservation: PassChecks["conservation"] = [];
  const agreement: PassChecks["agreement"] = [];
  for (const p of passes) {
    if (p.planned.pass !== "log") continue;
    const routesPath = p.outcome.result.routes?.path ?? p.planned.routesPath!;
    const { summary } = await analyseRoutesFile(routesPath);
    conservation.push({
      repeat: p.planned.repeat,
      ...checkConservation(expectedRows(p), summary.per_request, summary.layers_logged),
    });
    if (first === null) first = summary;
    else {
      // repeats' logs were checked; the first one is kept (with --log-format both, its .parquet too)
      await rm(routesPath, { force: true });
      if (routesPath.endsWith(".jsonl")) await rm(parquetTwin(routesPath), { force: true });
    }
    const baseline = passes.find((q) => q.planned.pass === "no_log" && q.planned.repeat === p.planned.repeat);
    if (baseline)
      agreement.push({
        repeat: p.planned.repeat,
        ...compareOutputs(baseline.outcome.result.output_token_ids, p.outcome.result.output_token_ids),
      });
  }
  if (first === null) throw new Error("no log pass ran");
  return { summary: first, conservation, agreement };
}
