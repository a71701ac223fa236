// What a finished run leaves beside moe_routes.jsonl: pictures, summary.json, timing.json, passes.json.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { HistSummary } from "../analysis/summary.js";
import { writeFileAtomic } from "./atomic-write.js";
import { SUMMARY_FILE } from "./summary-json.js";
import { toCompactJson } from "./compact-json.js";
import type { PassChecks } from "../passes/check-passes.js";
import type { CompletedPass } from "../passes/run-passes.js";
import { buildTiming } from "../passes/timing.js";

export const TIMING_FILE = "timing.json";
export const PASSES_FILE = "passes.json";

export interface RunInfo {
  model: string;
  engine: string;
  prompts_source: string;
  num_prompts: number;
  max_tokens: number;
  seed: number;
  temperature: number;
  deterministic: boolean;
  moe_prof_version: string;
}

const json = (x: unknown) => toCompactJson(x);

/** Whether `dir` holds what `moe-prof run` wrote: its passes.json, or a summary.json with a `run`
 * section (conservation, output agreement) that `hist` alone cannot make again. */
export function holdsRunResults(dir: string): boolean {
  if (existsSync(path.join(dir, PASSES_FILE))) return true;
  try {
    const s: unknown = JSON.parse(readFileSync(path.join(dir, SUMMARY_FILE), "utf8"));
    return typeof s === "object" && s !== null && "run" in s;
  } catch {
    return false; // none there, or not one of ours
  }
}

function engineSettings(passes: CompletedPass[]): Record<string, unknown> {
  return { ...(passes.find((p) => p.planned.pass === "log")?.outcome.ready.engine ?? {}) };
}

export async function writeRunArtifacts(
  dir: string,
  info: RunInfo,
  passes: CompletedPass[],
  checks: PassChecks,
): Promise<{ files: string[]; timing: ReturnType<typeof buildTiming> }> {
  // Loaded here, not at start-up: vega, vega-lite and canvas cost ~0.4 s and ~70 MB that
  // `moe-prof --version`, `--help` and `validate` must not pay (cli.ts imports this module).
  // render returns the pictures; this module writes them.
  const { histPictureFiles } = await import("../render/hist-pictures.js");
  const pictureFiles = await histPictureFiles(checks.summary);
  await Promise.all(pictureFiles.map((f) => writeFileAtomic(path.join(dir, f.name), f.data)));
  const pictures = pictureFiles.map((f) => f.name);
  const timing = buildTiming(
    passes.map((p) => p.record),
    engineSettings(passes),
  );
  const summary: HistSummary & { run: unknown } = {
    ...checks.summary,
    run: { ...info, conservation: checks.conservation, output_agreement: checks.agreement },
  };
  const perPass = passes.map((p) => ({
    ...p.record,
    engine: p.outcome.ready.engine,
    prompt_token_counts: p.outcome.result.prompt_token_counts,
    output_token_ids: p.outcome.result.output_token_ids,
    // the worker's paths point into <out>.partial/, renamed since: keep only the file name
    capture: p.outcome.result.routes
      ? { ...p.outcome.result.routes.stats, out_path: path.basename(p.outcome.result.routes.path) }
      : null,
  }));
  await writeFileAtomic(path.join(dir, SUMMARY_FILE), json(summary));
  await writeFileAtomic(path.join(dir, TIMING_FILE), json(timing));
  await writeFileAtomic(path.join(dir, PASSES_FILE), json(perPass));
  return { files: [...pictures, SUMMARY_FILE, TIMING_FILE, PASSES_FILE].map((f) => path.basename(f)), timing };
}
