// `moe-prof run`'s work: preflight, a no-log and a log pass over the same prompts, then checks and
// artifacts. cli.ts loads this module only when run runs, so that start-up (--help, --version,
// validate) does not load zod, execa and the passes.
import path from "node:path";
import { resolveRunConfig, type RunConfig } from "../../config/run-options.js";
import { defaultPython } from "../../config/python.js";
import { readPackageVersion } from "../../config/package-info.js";
import { loadPrompts } from "../../prompts/load-prompts.js";
import { runPreflight } from "../../preflight/run-preflight.js";
import { runPasses } from "../../passes/run-passes.js";
import { ROUTES_FILE, parquetTwin } from "../../passes/plan.js";
import { ProgressView } from "../../passes/progress-view.js";
import { abortOnSignals, throwIfInterrupted } from "../../passes/signals.js";
import { checkPasses, type PassChecks } from "../../passes/check-passes.js";
import { createRunDir, publishRunDir } from "../../artifacts/run-dir.js";
import { writeRunArtifacts } from "../../artifacts/run-artifacts.js";
import { humanSummary } from "../../render/human-summary.js";
import { UserError, EXIT_INVALID } from "../../errors.js";

/** The routes log(s) of the run, as --log-format asked (parquet: .jsonl replaced by .parquet). */
function routeFiles(cfg: RunConfig): string[] {
  const pq = parquetTwin(ROUTES_FILE);
  return cfg.logFormat === "parquet" ? [pq] : cfg.logFormat === "both" ? [ROUTES_FILE, pq] : [ROUTES_FILE];
}

function verdicts(cfg: RunConfig, checks: PassChecks): string[] {
  const problems: string[] = [];
  for (const c of checks.conservation)
    if (!c.ok) problems.push(`conservation FAILED (log pass ${c.repeat}): ${c.violations.slice(0, 3).join("; ")}`);
  if (cfg.deterministic)
    for (const a of checks.agreement)
      if (a.identical !== a.requests)
        problems.push(
          `--deterministic: log pass ${a.repeat} generated differently from the no-log pass in ${a.requests - a.identical} of ${a.requests} requests (first: request ${a.diverged[0]!.request} at token ${a.diverged[0]!.firstDifferentPosition})`,
        );
  return problems;
}

function report(
  cfg: RunConfig,
  outDir: string,
  files: string[],
  checks: PassChecks,
  timing: {
    no_log: { tokens_per_s: number; generate_s: number };
    log: { tokens_per_s: number; generate_s: number };
    overhead: { tokens_per_s_ratio: number; cpu_noise: boolean };
  },
): string {
  const a = checks.agreement[0]!;
  const c = checks.conservation[0]!;
  const agree =
    a.identical === a.requests
      ? `all ${a.requests} requests generated identical tokens in both passes`
      : `${a.identical}/${a.requests} requests identical; others diverge first at token ${a.diverged.map((d) => d.firstDifferentPosition).join(", ")}` +
        (cfg.deterministic ? "" : " (expected without --deterministic: GPU reductions are not bit-reproducible)");
  return [
    `\nmoe-prof run: ${outDir}`,
    `  files: ${routeFiles(cfg).join(", ")}, ${files.join(", ")}`,
    `  timing (median of ${cfg.repeats}):   no-log ${timing.no_log.tokens_per_s.toFixed(1)} tok/s (${timing.no_log.generate_s.toFixed(2)} s)` +
      ` | log ${timing.log.tokens_per_s.toFixed(1)} tok/s (${timing.log.generate_s.toFixed(2)} s) | ratio ${timing.overhead.tokens_per_s_ratio.toFixed(4)}` +
      (timing.overhead.cpu_noise
        ? "\n  (on a CPU these timings and ratios are noise: they say nothing about the cost of logging on a GPU)"
        : ""),
    `  conservation: ${c.ok ? "ok" : "FAILED"}, ${c.expected_rows_per_layer} rows per layer x ${c.layers_checked} layers for ${c.requests_checked} requests`,
    `  outputs: ${agree}`,
    "",
    humanSummary(checks.summary),
  ].join("\n");
}

/** `moe-prof run`: what the command does once commander has parsed it (cli.ts). */
export async function runCommand(raw: Record<string, unknown>): Promise<void> {
  const cfg = resolveRunConfig(raw, { python: defaultPython(), now: new Date() });
  // Inputs and environment are checked before anything is created or loaded.
  const promptSet = await loadPrompts(cfg);
  await runPreflight(cfg);
  const dir = createRunDir(cfg.outDir);
  const view = new ProgressView();
  const signals = abortOnSignals();
  let published = false;
  try {
    view.note(
      `moe-prof run: ${cfg.model} (${cfg.engine}), ${promptSet.prompts.length} prompts, working in ${dir.work}`,
    );
    const passes = await runPasses(cfg, promptSet.prompts, dir.work, view, signals.signal);
    const checks = await checkPasses(passes);
    const { files, timing } = await writeRunArtifacts(
      dir.work,
      {
        model: cfg.model,
        engine: cfg.engine,
        prompts_source: promptSet.source,
        num_prompts: promptSet.prompts.length,
        max_tokens: cfg.maxTokens,
        seed: cfg.seed,
        temperature: cfg.temperature,
        deterministic: cfg.deterministic,
        moe_prof_version: readPackageVersion(),
      },
      passes,
      checks,
    );
    throwIfInterrupted(signals.signal, "while checking the passes; nothing published");
    publishRunDir(dir);
    published = true;
    process.stdout.write(report(cfg, dir.final, files, checks, timing));
    const problems = verdicts(cfg, checks);
    if (problems.length) throw new UserError(problems.join("\n  "), EXIT_INVALID);
  } catch (err) {
    // An unfinished run stays in <out>.partial: say where, so its worker logs can be read.
    if (!published && err instanceof UserError)
      err.message += ` [unfinished run kept in ${path.relative(process.cwd(), dir.work)}]`;
    throw err;
  } finally {
    signals.dispose();
  }
}
