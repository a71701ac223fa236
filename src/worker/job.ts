// The job a worker runs: the one contract between the CLI and the Python worker. Defined here
// once; python/moe_prof/worker/job.schema.json is generated from it (scripts/gen-job-schema.ts,
// checked for drift by test/job-schema.test.ts) and the worker validates every job against it.
import { z } from "zod";

export const workerJob = z.strictObject({
  engine: z.enum(["vllm", "hf"]),
  pass_name: z.enum(["no_log", "log"]),
  model: z.string().min(1),
  /** Raw user messages; the engine applies the chat template. */
  prompts: z.array(z.string()).min(1),
  seed: z.number().int().min(0),
  max_tokens: z.number().int().min(1),
  temperature: z.number().min(0),
  /** Where the log pass writes its routes; null for the no-log pass. */
  routes_path: z.string().min(1).nullable(),
  /** MoE layers to log; null: all of them. */
  layers: z.array(z.number().int().min(0)).min(1).nullable(),
  warmup_prompts: z.number().int().min(0),
  warmup_max_tokens: z.number().int().min(1),
  tensor_parallel_size: z.number().int().min(1),
  gpu_memory_utilization: z.number().gt(0).max(1),
  max_model_len: z.number().int().min(16).nullable(),
  enforce_eager: z.boolean(),
  deterministic: z.boolean(),
  chat_template: z.boolean(),
  /** hf engine: build the model from config_dir with random weights. */
  random_weights: z.boolean(),
  config_dir: z.string().nullable(),
  tokenizer: z.string().nullable(),
  dtype: z.enum(["bfloat16", "float16", "float32"]),
  /** hf engine: where the model runs. */
  device: z.enum(["cuda", "cpu"]),
  /** vllm engine: "dummy" = vLLM's random weights (nothing downloaded: config.json and a tokenizer suffice). */
  load_format: z.enum(["auto", "dummy"]),
  /** vllm engine: more keyword arguments for vllm.LLM (--engine-args). */
  engine_args: z.record(z.string(), z.unknown()),
  /** The routes log's format (VLLM_LOG_MOE_FORMAT): parquet writes routes_path with .parquet for .jsonl. Absent: jsonl. */
  log_format: z.enum(["jsonl", "parquet", "both"]).optional(),
});

export type WorkerJob = z.infer<typeof workerJob>;

/** The JSON Schema the Python worker checks jobs against. */
export function workerJobJsonSchema(): unknown {
  return z.toJSONSchema(workerJob, { target: "draft-2020-12" });
}
