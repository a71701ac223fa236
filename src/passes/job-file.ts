// The job a worker reads (its schema: src/worker/job.ts): written as JSON, never as a command line.
import { writeFileSync } from "node:fs";
import path from "node:path";
import type { RunConfig } from "../config/run-options.js";
import { workerJob, type WorkerJob } from "../worker/job.js";
import type { PlannedPass } from "./plan.js";

export function jobFor(cfg: RunConfig, pass: PlannedPass, prompts: string[]): WorkerJob {
  return workerJob.parse({
    engine: cfg.engine,
    pass_name: pass.pass,
    model: cfg.model,
    prompts,
    seed: cfg.seed,
    max_tokens: cfg.maxTokens,
    temperature: cfg.temperature,
    routes_path: pass.routesPath,
    log_format: cfg.logFormat,
    layers: cfg.layers ?? null,
    warmup_prompts: Math.min(cfg.warmupPrompts, prompts.length),
    warmup_max_tokens: 16,
    tensor_parallel_size: cfg.tensorParallelSize,
    gpu_memory_utilization: cfg.gpuMemoryUtilization,
    max_model_len: cfg.maxModelLen ?? null,
    enforce_eager: cfg.enforceEager,
    deterministic: cfg.deterministic,
    chat_template: cfg.chatTemplate,
    random_weights: cfg.randomWeights,
    config_dir: cfg.config ? path.resolve(cfg.config) : null,
    tokenizer: cfg.tokenizer ? path.resolve(cfg.tokenizer) : null,
    dtype: cfg.device === "cpu" ? "float32" : "bfloat16",
    device: cfg.device,
    load_format: cfg.loadFormat,
    engine_args: cfg.engineArgs,
  });
}

export function writeJobFile(cfg: RunConfig, pass: PlannedPass, prompts: string[], jobsDir: string): string {
  const file = path.join(jobsDir, `${pass.pass}-${pass.repeat}.json`);
  writeFileSync(file, JSON.stringify(jobFor(cfg, pass, prompts), null, 2));
  return file;
}
