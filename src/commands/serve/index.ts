// `moe-prof serve`'s work: no-log and log server passes under the same load, then the routes log's
// checks (validation and analysis as `hist`, attribution per HTTP request) and the artifacts.
import { mkdirSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { resolveServeConfig, type ServeConfig } from "../../config/serve-options.js";
import { defaultPython } from "../../config/python.js";
import { readPackageVersion } from "../../config/package-info.js";
import { loadPrompts } from "../../prompts/load-prompts.js";
import { planServePasses } from "../../passes/plan.js";
import { abortOnSignals, throwIfInterrupted } from "../../passes/signals.js";
import { runServePass, PassFailure, levelLine, type ServePlan, type ServedPass } from "../../serving/serve-pass.js";
import { attributeRows, type Attribution } from "../../serving/attribution.js";
import { servingJson, type LevelComparison, type ServingInfo } from "../../serving/serving-json.js";
import { analyseRoutesFile } from "../../log-scan/analyse-routes.js";
import { validateRoutesFile } from "../../log-scan/validate-file.js";
import type { HistSummary } from "../../analysis/summary.js";
import { createRunDir, publishRunDir } from "../../artifacts/run-dir.js";
import { writeServeArtifacts, writeServingJson } from "../../artifacts/serve-artifacts.js";
import { humanSummary } from "../../render/human-summary.js";
import { UserError, EXIT_INVALID } from "../../errors.js";

function servePlan(cfg: ServeConfig, prompts: string[]): ServePlan {
  return {
    python: cfg.python,
    model: cfg.model,
    // prefix caching off, as in `run`: every prompt position is computed, so rows are conserved
    serverArgs: ["--seed", String(cfg.seed), "--no-enable-prefix-caching", ...cfg.serverArg],
    settings: {
      endpoint: cfg.endpoint,
      model: cfg.model,
      maxTokens: cfg.maxTokens,
      temperature: cfg.temperature,
      ignoreEos: cfg.ignoreEos,
    },
    prompts,
    shapes: cfg.levels.map((l, i) => ({
      shape:
        cfg.mode === "rate"
          ? { kind: "rate", rate: l, maxConcurrency: cfg.maxConcurrency ?? Infinity }
          : { kind: "concurrency", concurrency: l },
      count: cfg.numRequests[i]!,
    })),
    timeLimitS: cfg.timeLimit,
    abortFraction: cfg.abortFraction,
    abortAfterTokenChunks: cfg.abortAfter,
    warmupRequests: cfg.warmupRequests,
    seed: cfg.seed,
    healthTimeoutS: cfg.healthTimeout,
    stopTimeoutS: cfg.stopTimeout,
    logFormat: cfg.logFormat,
    toggleBlocks: cfg.toggleCapture ?? null,
  };
}

function servingInfo(cfg: ServeConfig, promptsSource: string, numPrompts: number): ServingInfo {
  return {
    model: cfg.model,
    endpoint: cfg.endpoint,
    mode: cfg.mode,
    levels: cfg.levels,
    load: {
      num_requests: cfg.numRequests,
      time_limit_s: cfg.timeLimit,
      max_tokens: cfg.maxTokens,
      temperature: cfg.temperature,
      ignore_eos: cfg.ignoreEos,
      max_concurrency: cfg.maxConcurrency ?? null,
      abort_fraction: cfg.abortFraction,
      abort_after_token_chunks: cfg.abortAfter,
      warmup_requests: cfg.warmupRequests,
      log_format: cfg.logFormat,
      toggle_capture_blocks: cfg.toggleCapture ?? null,
      seed: cfg.seed,
      prompts_source: promptsSource,
      num_prompts: numPrompts,
    },
    moe_prof_version: readPackageVersion(),
  };
}

/** Each log pass's routes: analysed (the first one's summary is the run's), rows attributed. */
async function checkLogs(
  cfg: ServeConfig,
  passes: ServedPass[],
): Promise<{ summary: HistSummary; attribution: Map<ServedPass, Attribution>; files: Map<ServedPass, string> }> {
  let first: HistSummary | null = null;
  const attribution = new Map<ServedPass, Attribution>();
  const files = new Map<ServedPass, string>();
  for (const p of passes) {
    if (p.planned.pass === "log_paused") {
      await checkPausedLog(p);
      continue;
    }
    if (p.planned.pass !== "log") continue;
    const file = p.planned.routesPath!;
    if (p.routes_log !== "complete")
      throw new UserError(
        `${p.planned.label} pass: the routes log was left as ${path.basename(file)}.partial (the server was stopped by ${p.stopped_by}, not a clean shutdown; the capture's writer, in the server's process group, is waited for up to --stop-timeout): not analysed`,
        EXIT_INVALID,
      );
    const { summary } = await analyseRoutesFile(file);
    const sentWhile = (state: "on" | "paused") =>
      p.levels.flatMap((l) =>
        l.blocks
          ? l.blocks.filter((b) => b.capture === state).flatMap((b) => b.records)
          : state === "on"
            ? l.records
            : [],
      );
    const requests = [...p.warmup, ...sentWhile("on")];
    attribution.set(
      p,
      attributeRows(cfg.endpoint, requests, summary.per_request, summary.layers_logged, sentWhile("paused")),
    );
    if (first === null) {
      first = summary;
      files.set(p, path.basename(file));
    } else await rm(file, { force: true }); // repeats' logs are checked, the first one is kept
  }
  return { summary: first!, attribution, files };
}

/** A paused pass's log: closed at the clean stop and without a route row (a capture that resumed
 * would make this arm's numbers a log pass's), then removed: it is not a result. */
async function checkPausedLog(p: ServedPass): Promise<void> {
  const file = p.planned.routesPath!;
  if (p.routes_log !== "complete")
    throw new UserError(
      `${p.planned.label} pass: the capture's log was left as ${path.basename(file)}.partial (stopped by ${p.stopped_by})`,
      EXIT_INVALID,
    );
  // validate calls a meta-only log invalid ("no route rows"): here that is the one right outcome
  const { scan, errors } = await validateRoutesFile(file);
  if (scan.meta === null)
    throw new UserError(`${p.planned.label} pass: ${errors[0] ?? `${file}: no meta line`}`, EXIT_INVALID);
  if (scan.rows !== 0)
    throw new UserError(
      `${file}: ${scan.rows} route rows from the paused pass (${p.planned.label}): the capture did not stay paused`,
      EXIT_INVALID,
    );
  await rm(file, { force: true });
}

function verdicts(passes: ServedPass[], attribution: Map<ServedPass, Attribution>): string[] {
  const problems: string[] = [];
  for (const p of passes) {
    for (const l of p.levels)
      for (const [what, s] of l.blocks
        ? l.blocks.map((b, i) => [`, block ${i + 1} (${b.capture})`, b.summary] as const)
        : [["", l.summary] as const])
        if (!s.complete)
          problems.push(
            `${p.planned.label} pass, level ${l.level}${what}: incomplete (${levelLine(s)}; stopped by ${s.stopped_by})`,
          );
    const a = attribution.get(p);
    if (a && !a.ok)
      problems.push(`${p.planned.label} pass: attribution FAILED: ${a.violations.slice(0, 3).join("; ")}`);
  }
  return problems;
}

/** `moe-prof serve`: what the command does once commander has parsed it (cli.ts). */
export async function serveCommand(raw: Record<string, unknown>): Promise<void> {
  const cfg = resolveServeConfig(raw, { python: defaultPython(), now: new Date() });
  const promptSet = await loadPrompts({ prompts: cfg.prompts, numPrompts: cfg.numPrompts });
  const dir = createRunDir(cfg.outDir);
  const logsDir = path.join(dir.work, "logs");
  mkdirSync(logsDir);
  const info = servingInfo(cfg, promptSet.source, promptSet.prompts.length);
  const plan = servePlan(cfg, promptSet.prompts);
  const note = (line: string) => process.stderr.write(`${line}\n`);
  const signals = abortOnSignals();
  const passes: ServedPass[] = [];
  let published = false;
  try {
    note(
      `moe-prof serve: ${cfg.model}, ${cfg.mode} ${cfg.levels.join(",")}, ${cfg.numRequests.join(",")} requests per level, working in ${dir.work}`,
    );
    for (const planned of planServePasses(cfg.repeats, dir.work, cfg, cfg.logFormat)) {
      try {
        passes.push(await runServePass(plan, planned, logsDir, note, signals.signal));
      } catch (err) {
        // what was measured stays in the unfinished run's serving.json, marked incomplete
        if (err instanceof PassFailure)
          await writeServingJson(
            dir.work,
            servingJson(info, passes, new Map(), new Map(), { partial: err.partial, error: err.message }),
          );
        throw err;
      }
    }
    throwIfInterrupted(signals.signal, "after the passes; nothing published");
    const { summary, attribution, files: routesFiles } = await checkLogs(cfg, passes);
    const report = servingJson(info, passes, attribution, routesFiles);
    const written = await writeServeArtifacts(dir.work, summary, report, {
      ...info,
      attribution: [...attribution.values()],
    });
    throwIfInterrupted(signals.signal, "while writing the results; nothing published");
    publishRunDir(dir);
    published = true;
    const routesFile = [...routesFiles.values()][0]!;
    const lines = [`\nmoe-prof serve: ${dir.final}`, `  files: ${routesFile}, ${written.join(", ")}, logs/`];
    const f = (x: number | null) => (x === null ? "n/a" : x.toFixed(3));
    const ratioLine = (level: number, what: string, r: LevelComparison["log_over_no_log"]) =>
      `  ${cfg.mode} ${level}: ${what}  TTFT p50 ${f(r.ttft_p50_s)}  ITL p50 ${f(r.itl_p50_s)}  ITL p99 ${f(r.itl_p99_s)}  tok/s ${f(r.output_tokens_per_s)}`;
    for (const c of report.comparison) {
      lines.push(ratioLine(c.level, "log/no-log", c.log_over_no_log));
      if (c.log_paused_over_no_log) lines.push(ratioLine(c.level, "paused/no-log", c.log_paused_over_no_log));
      if (c.vllm_capture_over_no_log) lines.push(ratioLine(c.level, "vLLM capture/no-log", c.vllm_capture_over_no_log));
      if (c.log_over_paused_same_server)
        lines.push(
          ratioLine(
            c.level,
            `log/paused, same server (${c.log_over_paused_same_server.pairs} block pairs)`,
            c.log_over_paused_same_server.ratio,
          ),
        );
    }
    for (const [p, a] of attribution)
      lines.push(
        `  attribution (${p.planned.label}): ${a.complete} completed requests with all their rows${a.paused ? `, ${a.paused} sent while paused with none` : ""}${a.aborted.length ? `, ${a.aborted.length} disconnected requests (partial rows, not complete)` : ""}${a.ok ? "" : ", FAILED"}`,
      );
    process.stdout.write(lines.join("\n") + "\n\n" + humanSummary(summary));
    const problems = verdicts(passes, attribution);
    if (problems.length) throw new UserError(problems.join("\n  "), EXIT_INVALID);
  } catch (err) {
    if (!published && err instanceof UserError)
      err.message += ` [unfinished run kept in ${path.relative(process.cwd(), dir.work)}]`;
    throw err;
  } finally {
    signals.dispose();
  }
}
