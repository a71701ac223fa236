// Run the planned passes one worker each, the same engine settings for all, and collect results.
import { mkdirSync } from "node:fs";
import path from "node:path";
import type { RunConfig } from "../config/run-options.js";
import { runWorker, type WorkerOutcome } from "../worker/run-worker.js";
import { planPasses, type PlannedPass } from "./plan.js";
import { writeJobFile } from "./job-file.js";
import type { PassRecord } from "./timing.js";
import type { ProgressView } from "./progress-view.js";

export interface CompletedPass {
  planned: PlannedPass;
  outcome: WorkerOutcome;
  record: PassRecord;
}

export function toRecord(planned: PlannedPass, o: WorkerOutcome): PassRecord {
  const outputTokens = o.result.output_token_ids.reduce((n, ids) => n + ids.length, 0);
  return {
    pass: planned.pass,
    repeat: planned.repeat,
    wall_s: Number(o.wallS.toFixed(3)),
    load_s: o.ready.load_s,
    engine_load_s: o.ready.engine_load_s ?? null,
    warmup_s: o.result.warmup_s,
    generate_s: o.result.generate_s,
    prompt_tokens: o.result.prompt_token_counts.reduce((a, b) => a + b, 0),
    output_tokens: outputTokens,
    tokens_per_s: Number((outputTokens / o.result.generate_s).toFixed(3)),
  };
}

export async function runPasses(
  cfg: RunConfig,
  prompts: string[],
  workDir: string,
  view: ProgressView,
  signal: AbortSignal,
): Promise<CompletedPass[]> {
  const jobsDir = path.join(workDir, "jobs");
  const logsDir = path.join(workDir, "logs");
  mkdirSync(jobsDir, { recursive: true });
  mkdirSync(logsDir, { recursive: true });
  const done: CompletedPass[] = [];
  for (const planned of planPasses(cfg.repeats, workDir)) {
    const jobPath = writeJobFile(cfg, planned, prompts, jobsDir);
    const outcome = await runWorker({
      python: cfg.python,
      jobPath,
      stderrPath: path.join(logsDir, `worker-${planned.pass}-${planned.repeat}.log`),
      transcriptPath: path.join(logsDir, `worker-${planned.pass}-${planned.repeat}.protocol.jsonl`),
      label: planned.label,
      signal,
      onMessage: (m) => view.onMessage(planned.label, m),
    });
    done.push({ planned, outcome, record: toRecord(planned, outcome) });
  }
  return done;
}
