// `moe-prof run`: preflight, a no-log and a log pass over the same prompts, then checks and artifacts.
import path from "node:path";
import { Command, Option } from "commander";
import { resolveRunConfig, DEFAULT_MODEL, type RunConfig } from "../config/run-options.js";
import { defaultPython } from "../config/python.js";
import { readPackageVersion } from "../config/package-info.js";
import { loadPrompts } from "../prompts/load-prompts.js";
import { runPreflight, type ExtraCheck } from "../preflight/run-preflight.js";
import { runPasses } from "../passes/run-passes.js";
import { ROUTES_FILE } from "../passes/plan.js";
import { ProgressView } from "../passes/progress-view.js";
import { abortOnSignals, throwIfInterrupted } from "../passes/signals.js";
import { checkPasses, type PassChecks } from "../passes/check-passes.js";
import { createRunDir, publishRunDir } from "../artifacts/run-dir.js";
import { writeRunArtifacts } from "../artifacts/run-artifacts.js";
import { humanSummary } from "../render/human-summary.js";
import { UserError, EXIT_INVALID } from "../errors.js";

export interface RunDeps {
  /** Checks beyond the Python facts, e.g. that the vLLM patch is applied (engine vllm only). */
  vllmChecks: ExtraCheck[];
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

function report(cfg: RunConfig, outDir: string, files: string[], checks: PassChecks, timing: { no_log: { tokens_per_s: number; generate_s: number }; log: { tokens_per_s: number; generate_s: number }; overhead: { tokens_per_s_ratio: number } }): string {
  const a = checks.agreement[0]!;
  const c = checks.conservation[0]!;
  const agree =
    a.identical === a.requests
      ? `all ${a.requests} requests generated identical tokens in both passes`
      : `${a.identical}/${a.requests} requests identical; others diverge first at token ${a.diverged.map((d) => d.firstDifferentPosition).join(", ")}` +
        (cfg.deterministic ? "" : " (expected without --deterministic: GPU reductions are not bit-reproducible)");
  return [
    `\nmoe-prof run: ${outDir}`,
    `  files: ${ROUTES_FILE}, ${files.join(", ")}`,
    `  timing (median of ${cfg.repeats}):   no-log ${timing.no_log.tokens_per_s.toFixed(1)} tok/s (${timing.no_log.generate_s.toFixed(2)} s)` +
      ` | log ${timing.log.tokens_per_s.toFixed(1)} tok/s (${timing.log.generate_s.toFixed(2)} s) | ratio ${timing.overhead.tokens_per_s_ratio.toFixed(4)}`,
    `  conservation: ${c.ok ? "ok" : "FAILED"}, ${c.expected_rows_per_layer} rows per layer x ${c.layers_checked} layers for ${c.requests_checked} requests`,
    `  outputs: ${agree}`,
    "",
    humanSummary(checks.summary),
  ].join("\n");
}

export async function runCommand(raw: Record<string, unknown>, deps: RunDeps): Promise<void> {
  const cfg = resolveRunConfig(raw, { python: defaultPython(), now: new Date() });
  // Inputs and environment are checked before anything is created or loaded.
  const promptSet = await loadPrompts(cfg);
  await runPreflight(cfg, cfg.engine === "vllm" ? deps.vllmChecks : []);
  const dir = createRunDir(cfg.outDir);
  const view = new ProgressView();
  const signals = abortOnSignals();
  let published = false;
  try {
    view.note(`moe-prof run: ${cfg.model} (${cfg.engine}), ${promptSet.prompts.length} prompts, working in ${dir.work}`);
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
    if (!published && err instanceof UserError) err.message += ` [unfinished run kept in ${path.relative(process.cwd(), dir.work)}]`;
    throw err;
  } finally {
    signals.dispose();
  }
}

export function registerRun(program: Command, deps: RunDeps): void {
  program
    .command("run")
    .description("Profile MoE routing: a no-log and a log pass over the same prompts, then validate, check and plot.")
    .option("--model <id>", `model to run (default ${DEFAULT_MODEL})`)
    .addOption(new Option("--engine <name>", "vllm (patched 0.15.1) or hf (transformers)").choices(["vllm", "hf"]).default("vllm"))
    .option("--num-prompts <n>", "how many prompts (from the start of the set)", "25")
    .option("--prompts <file>", "prompts file: .jsonl (strings or {prompt|question|text}) or text, one per line")
    .option("--dataset-url <url>", "download a GSM8K-style JSONL instead of the bundled split")
    .option("--max-tokens <n>", "tokens to generate per prompt", "256")
    .option("--temperature <t>", "sampling temperature (0 = greedy)", "0")
    .option("--seed <n>", "seed for the engine and sampling", "1234")
    .option("--out <dir>", "result directory (default ./moe-prof-out/<timestamp>)")
    .option("--python <path>", "Python with vLLM / transformers (default ./.venv/bin/python, else python3)")
    .option("--repeats <n>", "no-log/log pass pairs, alternating; timing reports medians", "1")
    .option("--layers <list>", "log only these MoE layers, e.g. 0,5-7")
    .option("--tensor-parallel-size <n>", "vLLM only: tensor parallel size", "1")
    .option("--gpu-memory-utilization <f>", "vLLM only: GPU memory fraction", "0.9")
    .option("--max-model-len <n>", "vLLM only: max model length")
    .option("--enforce-eager", "vLLM only: turn CUDA graphs off (in both passes; transformers runs without them anyway)", false)
    .option("--deterministic", "deterministic kernels; the two passes must then generate identical tokens", false)
    .option("--no-chat-template", "send prompts as plain text instead of through the model's chat template")
    .option("--warmup-prompts <n>", "prompts in the untimed, unlogged warm-up generation", "2")
    .option("--random-weights", "hf engine: build the model from --config with random weights (hardware tests)", false)
    .option("--config <dir>", "hf engine: directory with the model's config.json")
    .option("--tokenizer <dir>", "hf engine: tokenizer directory (default: --config, else --model)")
    .addOption(new Option("--device <kind>", "hf engine: where the model runs (cpu: float32, no GPU needed)").choices(["cuda", "cpu"]).default("cuda"))
    .option("--engine-args <json>", `vLLM only: more vllm.LLM keyword arguments, e.g. '{"max_num_seqs": 64}'`)
    .addHelpText(
      "after",
      `
Each pass is a fresh Python worker with the same engine settings (CUDA graphs on unless
--enforce-eager, prefix caching off). A warm-up generation precedes the timed one and is never
logged. The run works in <out>.partial/ and is renamed to <out>/ when complete:
  moe_routes.jsonl   every routing decision of the log pass (schema: README "Log schema")
  expert_hist.png, expert_heatmap.png, layer_transitions.png, summary.json (+ run checks),
  timing.json, passes.json
  logs/              each worker's stderr and protocol transcript; jobs/: each worker's job
Exit codes: 0 ok; 1 a pass failed or a check failed (conservation, --deterministic agreement);
2 usage or environment (no GPU, wrong vLLM, patch not applied, not enough GPU memory); 130 interrupted.

Examples:
  moe-prof run
  moe-prof run --num-prompts 4 --max-tokens 32 --out smoke
  moe-prof run --engine hf --random-weights --config fixtures/models/qwen1.5-moe-a2.7b --deterministic
  moe-prof run --engine hf --device cpu --random-weights --config fixtures/models/tiny-qwen2-moe \\
      --tokenizer fixtures/models/qwen1.5-moe-a2.7b --num-prompts 4 --max-tokens 12`,
    )
    .action(async (opts: Record<string, unknown>) => runCommand(opts, deps));
}
