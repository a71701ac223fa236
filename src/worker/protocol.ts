// The worker's JSON-lines messages (python/moe_prof/worker/protocol.py writes them), checked with zod.
import { z } from "zod";

const base = { t: z.number().optional() };

export const helloMsg = z.looseObject({
  type: z.literal("hello"),
  protocol: z.literal(1),
  pid: z.number().int(),
  ...base,
});
export const phaseMsg = z.looseObject({
  type: z.literal("phase"),
  phase: z.enum(["load", "warmup", "generate"]),
  total: z.number().int().optional(),
  ...base,
});
export const readyMsg = z.looseObject({
  type: z.literal("ready"),
  pass_name: z.enum(["no_log", "log"]),
  engine: z.record(z.string(), z.unknown()),
  /** The whole load phase: importing torch and the engine's libraries, then building the engine. */
  load_s: z.number(),
  /** The part of load_s the engine measures itself (hf: config, weights, tokenizer; vLLM: vllm.LLM(...)). */
  engine_load_s: z.number().nullable().optional(),
  ...base,
});
export const progressMsg = z.looseObject({
  type: z.literal("progress"),
  /** Requests finished, of total. */
  done: z.number().int().min(0),
  total: z.number().int().min(1),
  /** Output tokens so far, and at most (finished requests' tokens + max_tokens per unfinished one);
   * absent where the engine sees only finished requests (vLLM 0.15.1's LLM.generate). */
  tokens: z.number().int().min(0).optional(),
  tokens_at_most: z.number().int().min(0).optional(),
  ...base,
});
export const routesInfo = z.looseObject({ path: z.string(), stats: z.record(z.string(), z.unknown()).optional() });
export const resultMsg = z.looseObject({
  type: z.literal("result"),
  pass_name: z.enum(["no_log", "log"]),
  generate_s: z.number().positive(),
  warmup_s: z.number().min(0),
  prompt_token_counts: z.array(z.number().int().min(1)),
  output_token_ids: z.array(z.array(z.number().int().min(0))),
  finish_reasons: z.array(z.string().nullable()).optional(),
  /** Prompt tokens vLLM's prefix cache served: never computed, so never logged. */
  num_cached_tokens: z.array(z.number().int().min(0)).optional(),
  max_tokens: z.number().int().min(1).optional(),
  routes: routesInfo.nullable(),
  notes: z.array(z.string()).optional(),
  ...base,
});
export const errorMsg = z.looseObject({
  type: z.literal("error"),
  message: z.string(),
  kind: z.string().optional(),
  ...base,
});

export const workerMessage = z.discriminatedUnion("type", [
  helloMsg,
  phaseMsg,
  readyMsg,
  progressMsg,
  resultMsg,
  errorMsg,
]);

export type WorkerMessage = z.infer<typeof workerMessage>;
export type ReadyMsg = z.infer<typeof readyMsg>;
export type ResultMsg = z.infer<typeof resultMsg>;

/** Parse one protocol line; a bad line is the worker's bug, reported with its text. */
export function parseWorkerLine(line: string): { ok: true; msg: WorkerMessage } | { ok: false; error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return { ok: false, error: `not JSON: ${line.slice(0, 200)}` };
  }
  const r = workerMessage.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    return { ok: false, error: `${issue.path.join(".") || "message"}: ${issue.message}` };
  }
  return { ok: true, msg: r.data };
}
