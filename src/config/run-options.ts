// `moe-prof run` options: commander hands strings; zod turns them into one checked RunConfig.
import path from "node:path";
import { z } from "zod";
import { UserError, EXIT_ENV } from "../errors.js";
import { parseLayerList } from "./layer-list.js";
import { refuseFileAsOutDir, refuseSpecialOutDir } from "./out-dir-guard.js";
import { checkModelDirs } from "./model-dirs.js";

import { DEFAULT_MODEL } from "./defaults.js";

export { DEFAULT_MODEL };

/** A decimal number as typed (commander hands strings). z.coerce.number() would read "abc" as NaN
 * ("expected number, received NaN", no value quoted) and "" or " " as 0; here each problem is
 * "must be ..., got "<what was typed>"", after the flag that resolveRunConfig puts first. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

interface NumberRule {
  integer?: boolean;
  min?: number;
  /** min itself is refused (a fraction of GPU memory must be > 0). */
  minExclusive?: boolean;
  max?: number;
  /** Why max, said after it. */
  maxReason?: string;
}

export function numberOption(rule: NumberRule) {
  return z.union([z.string(), z.number()]).transform((v, ctx) => {
    const typed = typeof v === "number" ? String(v) : v;
    const fail = (what: string) => {
      ctx.addIssue({ code: "custom", message: `${what}, got ${JSON.stringify(typed)}` });
      return z.NEVER;
    };
    const n = typeof v === "number" ? v : DECIMAL.test(v.trim()) ? Number(v.trim()) : NaN;
    if (!Number.isFinite(n)) return fail(rule.integer ? "must be an integer" : "must be a number");
    if (rule.integer && !Number.isInteger(n)) return fail("must be an integer");
    if (rule.min !== undefined && (rule.minExclusive ? n <= rule.min : n < rule.min))
      return fail(`must be ${rule.minExclusive ? ">" : ">="} ${rule.min}`);
    if (rule.max !== undefined && n > rule.max)
      return fail(`must be at most ${rule.max}${rule.maxReason ? ` (${rule.maxReason})` : ""}`);
    if (rule.integer && !Number.isSafeInteger(n)) return fail(`must be at most ${Number.MAX_SAFE_INTEGER}`);
    return n;
  });
}

const intFrom = (min: number) => numberOption({ integer: true, min });
const layerSpec = z.string().regex(/^\d+(-\d+)?(,\d+(-\d+)?)*$/, "expected layers like 0,5-7");

export const runOptionsSchema = z
  .object({
    model: z.string().min(1).default(DEFAULT_MODEL),
    engine: z.enum(["vllm", "hf"]).default("vllm"),
    prompts: z.string().optional(),
    numPrompts: intFrom(1).default(25),
    datasetUrl: z.string().url().optional(),
    // vLLM seeds numpy, whose seeds stop at 2^32 - 1.
    seed: numberOption({
      integer: true,
      min: 0,
      max: 2 ** 32 - 1,
      maxReason: "2^32 - 1, the largest seed numpy takes; vLLM seeds numpy",
    }).default(1234),
    maxTokens: intFrom(1).default(256),
    temperature: numberOption({ min: 0 }).default(0),
    out: z.string().optional(),
    python: z.string().optional(),
    tensorParallelSize: intFrom(1).default(1),
    gpuMemoryUtilization: numberOption({ min: 0, minExclusive: true, max: 1 }).default(0.9),
    maxModelLen: intFrom(16).optional(),
    repeats: intFrom(1).default(1),
    layers: layerSpec.optional(),
    enforceEager: z.boolean().default(false),
    deterministic: z.boolean().default(false),
    chatTemplate: z.boolean().default(true),
    warmupPrompts: intFrom(0).default(2),
    randomWeights: z.boolean().default(false),
    config: z.string().optional(),
    tokenizer: z.string().optional(),
    device: z.enum(["cuda", "cpu"]).default("cuda"),
    engineArgs: z.string().optional(),
    /** vLLM's weights: auto (the checkpoint) or dummy (random, from config.json alone). */
    loadFormat: z.enum(["auto", "dummy"]).default("auto"),
    /** The log pass's routes: JSONL, Parquet (moe_routes.parquet), or both. */
    logFormat: z.enum(["jsonl", "parquet", "both"]).default("jsonl"),
  })
  .superRefine((o, ctx) => {
    if (o.randomWeights && o.engine !== "hf")
      ctx.addIssue({ code: "custom", path: ["randomWeights"], message: "--random-weights needs --engine hf" });
    if (o.randomWeights && !o.config)
      ctx.addIssue({
        code: "custom",
        path: ["config"],
        message: "--random-weights needs --config DIR (a config.json)",
      });
    if (o.prompts && o.datasetUrl)
      ctx.addIssue({ code: "custom", path: ["prompts"], message: "give --prompts or --dataset-url, not both" });
    if (o.device === "cpu" && o.engine !== "hf")
      ctx.addIssue({
        code: "custom",
        path: ["device"],
        message: "cpu needs --engine hf (the patched vLLM runs on CUDA GPUs)",
      });
    if (o.loadFormat === "dummy" && o.engine !== "vllm")
      ctx.addIssue({
        code: "custom",
        path: ["loadFormat"],
        message: "dummy is vLLM's random weights: with --engine hf use --random-weights --config DIR",
      });
    if (o.engineArgs !== undefined && o.engine !== "vllm")
      ctx.addIssue({
        code: "custom",
        path: ["engineArgs"],
        message: "is for --engine vllm (keyword arguments of vllm.LLM)",
      });
    // Settings of one engine that the other has no use for: refused, never silently dropped.
    if (o.engine === "vllm")
      for (const key of ["config", "tokenizer"] as const)
        if (o[key] !== undefined)
          ctx.addIssue({ code: "custom", path: [key], message: "is for --engine hf (vLLM reads --model)" });
    if (o.engine === "hf") {
      const vllmOnly = [
        ["tensorParallelSize", o.tensorParallelSize !== 1, "the hf engine runs the model on one device"],
        ["maxModelLen", o.maxModelLen !== undefined, "the hf engine sizes its cache to the prompts"],
        ["gpuMemoryUtilization", o.gpuMemoryUtilization !== 0.9, "the hf engine takes what the model needs"],
      ] as const;
      for (const [key, given, why] of vllmOnly)
        if (given) ctx.addIssue({ code: "custom", path: [key], message: `is for --engine vllm (${why})` });
    }
  });

export type RunOptions = z.infer<typeof runOptionsSchema>;

export interface RunConfig extends Omit<RunOptions, "layers" | "engineArgs"> {
  python: string;
  outDir: string;
  /** --layers as a list; undefined: every MoE layer. */
  layers: number[] | undefined;
  /** --engine-args as an object (vllm.LLM keyword arguments). */
  engineArgs: Record<string, unknown>;
}

const FLAG: Record<string, string> = {
  numPrompts: "--num-prompts",
  datasetUrl: "--dataset-url",
  maxTokens: "--max-tokens",
  tensorParallelSize: "--tensor-parallel-size",
  gpuMemoryUtilization: "--gpu-memory-utilization",
  maxModelLen: "--max-model-len",
  enforceEager: "--enforce-eager",
  randomWeights: "--random-weights",
  warmupPrompts: "--warmup-prompts",
  chatTemplate: "--no-chat-template",
  engineArgs: "--engine-args",
  loadFormat: "--load-format",
};

function flagName(key: string): string {
  return FLAG[key] ?? `--${key}`;
}

export function timestampDirName(now: Date): string {
  return now
    .toISOString()
    .replace(/\.\d+Z$/, "Z")
    .replace(/[:]/g, "-");
}

export function resolveRunConfig(raw: Record<string, unknown>, defaults: { python: string; now: Date }): RunConfig {
  const parsed = runOptionsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0] ?? "");
    throw new UserError(`${flagName(key)}: ${issue.message}`, EXIT_ENV);
  }
  const o = parsed.data;
  checkModelDirs(o);
  // backwards or huge ranges: exit 2 now, not after a pass; the worker gets the list
  const layers = o.layers !== undefined ? parseLayerList(o.layers) : undefined;
  // A random-weights model is not the default checkpoint: name it after its config.
  const model =
    o.randomWeights && raw.model === undefined ? `random-weights/${path.basename(path.resolve(o.config!))}` : o.model;
  const outDir = path.resolve(o.out ?? path.join("moe-prof-out", timestampDirName(defaults.now)));
  refuseSpecialOutDir(outDir); // before any check or pass: mkdir under /proc never returns
  refuseFileAsOutDir(outDir);
  return {
    ...o,
    layers,
    engineArgs: o.engineArgs === undefined ? {} : parseEngineArgs(o.engineArgs),
    model,
    python: o.python ?? defaults.python,
    outDir,
  };
}

/** --engine-args '{"max_num_seqs": 64}': a JSON object of vllm.LLM keyword arguments. */
export function parseEngineArgs(text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new UserError(`--engine-args: not JSON: ${text.slice(0, 80)}`, EXIT_ENV);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v))
    throw new UserError(
      `--engine-args: expected a JSON object of vllm.LLM keyword arguments, e.g. '{"max_num_seqs": 64}'`,
      EXIT_ENV,
    );
  return v as Record<string, unknown>;
}
