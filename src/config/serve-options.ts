// `moe-prof serve` options: commander hands strings; zod turns them into one checked ServeConfig.
import path from "node:path";
import { z } from "zod";
import { UserError, EXIT_ENV } from "../errors.js";
import { DEFAULT_MODEL } from "./defaults.js";
import { numberOption, timestampDirName } from "./run-options.js";
import { parseIntList } from "./number-list.js";
import { refuseSpecialOutDir } from "./out-dir-guard.js";

const intFrom = (min: number) => numberOption({ integer: true, min });

export const serveOptionsSchema = z
  .object({
    model: z.string().min(1).default(DEFAULT_MODEL),
    python: z.string().optional(),
    endpoint: z.enum(["completions", "chat"]).default("completions"),
    concurrency: z.string().optional(),
    requestRate: z.string().optional(),
    maxConcurrency: intFrom(1).optional(),
    numRequests: z.string().default("64"),
    timeLimit: numberOption({ min: 0, minExclusive: true }).default(600),
    maxTokens: intFrom(1).default(128),
    temperature: numberOption({ min: 0 }).default(0),
    ignoreEos: z.boolean().default(true),
    prompts: z.string().optional(),
    numPrompts: intFrom(1).default(64),
    abortFraction: numberOption({ min: 0, max: 1 }).default(0),
    abortAfter: intFrom(1).default(4),
    seed: numberOption({ integer: true, min: 0, max: 2 ** 32 - 1 }).default(1234),
    repeats: intFrom(1).default(1),
    warmupRequests: intFrom(0).default(1),
    healthTimeout: numberOption({ min: 0, minExclusive: true }).default(900),
    stopTimeout: numberOption({ min: 0, minExclusive: true }).default(60),
    serverArg: z.array(z.string()).default([]),
    vllmCapture: z.boolean().default(false),
    pausedCapture: z.boolean().default(false),
    toggleCapture: intFrom(2).optional(),
    logFormat: z.enum(["jsonl", "parquet"]).default("jsonl"),
    out: z.string().optional(),
  })
  .superRefine((o, ctx) => {
    if (o.concurrency !== undefined && o.requestRate !== undefined)
      ctx.addIssue({
        code: "custom",
        path: ["requestRate"],
        message: "give --request-rate or --concurrency, not both",
      });
    if (o.toggleCapture !== undefined && o.toggleCapture % 4 !== 0)
      ctx.addIssue({
        code: "custom",
        path: ["toggleCapture"],
        message: "blocks come in ABBA quartets (on, paused, paused, on): give a multiple of 4 like 4, 8 or 16",
      });
    if (o.maxConcurrency !== undefined && o.requestRate === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["maxConcurrency"],
        message: "caps --request-rate's open loop: give --request-rate",
      });
  });

type ServeOptions = z.infer<typeof serveOptionsSchema>;

export interface ServeConfig extends Omit<ServeOptions, "concurrency" | "requestRate" | "numRequests"> {
  python: string;
  outDir: string;
  mode: "concurrency" | "rate";
  /** Concurrencies or request rates, ascending. */
  levels: number[];
  /** Requests sent at each level, aligned with `levels`. */
  numRequests: number[];
}

/** `--num-requests`: one count for every level, or one per level in the order the levels were
 * given (light loads need fewer requests than saturating ones for the same wall time). */
export function parseRequestCounts(text: string, levelsGiven: number): number[] {
  const parts = text.split(",").map((p) => p.trim());
  const counts = parts.map((t) => {
    const n = Number(t);
    if (!/^\d+$/.test(t) || !Number.isSafeInteger(n) || n < 1)
      throw new UserError(
        `--num-requests: cannot read "${t}" (expected integers >= 1 like 64 or 32,256,1024)`,
        EXIT_ENV,
      );
    return n;
  });
  if (counts.length === 1) return Array<number>(levelsGiven).fill(counts[0]!);
  if (counts.length !== levelsGiven)
    throw new UserError(
      `--num-requests: ${counts.length} counts for ${levelsGiven} load levels (give one count, or one per level)`,
      EXIT_ENV,
    );
  return counts;
}

/** Levels ascending with their counts; a level given twice keeps its first count. */
function pairLevels(given: number[], counts: number[]): { levels: number[]; numRequests: number[] } {
  const byLevel = new Map<number, number>();
  given.forEach((level, i) => {
    if (!byLevel.has(level)) byLevel.set(level, counts[i]!);
  });
  const levels = [...byLevel.keys()].sort((x, y) => x - y);
  return { levels, numRequests: levels.map((l) => byLevel.get(l)!) };
}

const FLAG: Record<string, string> = {
  requestRate: "--request-rate",
  maxConcurrency: "--max-concurrency",
  numRequests: "--num-requests",
  timeLimit: "--time-limit",
  maxTokens: "--max-tokens",
  ignoreEos: "--no-ignore-eos",
  numPrompts: "--num-prompts",
  abortFraction: "--abort-fraction",
  abortAfter: "--abort-after",
  warmupRequests: "--warmup-requests",
  healthTimeout: "--health-timeout",
  stopTimeout: "--stop-timeout",
  serverArg: "--server-arg",
  vllmCapture: "--vllm-capture",
  pausedCapture: "--paused-capture",
  toggleCapture: "--toggle-capture",
  logFormat: "--log-format",
};

/** Distinct request rates > 0, ascending: `0.5,2,8`. */
export function parseRateList(text: string): number[] {
  const out = new Set<number>();
  for (const part of text.split(",")) {
    const t = part.trim();
    const n = Number(t);
    if (t === "" || !Number.isFinite(n) || n <= 0)
      throw new UserError(`--request-rate: cannot read "${part}" (expected requests/s > 0 like 0.5,2,8)`, EXIT_ENV);
    out.add(n);
  }
  return [...out].sort((a, b) => a - b);
}

export function resolveServeConfig(raw: Record<string, unknown>, defaults: { python: string; now: Date }): ServeConfig {
  const parsed = serveOptionsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0] ?? "");
    throw new UserError(`${FLAG[key] ?? `--${key}`}: ${issue.message}`, EXIT_ENV);
  }
  const { concurrency, requestRate, numRequests, ...o } = parsed.data;
  const levelText = requestRate ?? concurrency ?? "1,8,32";
  // parsed one by one, so that per-level counts pair with the levels in the order given
  const given = levelText
    .split(",")
    .map((part) => (requestRate !== undefined ? parseRateList(part)[0]! : parseIntList("--concurrency", part, 1)[0]!));
  const outDir = path.resolve(o.out ?? path.join("moe-prof-out", `serve-${timestampDirName(defaults.now)}`));
  refuseSpecialOutDir(outDir);
  const paired = pairLevels(given, parseRequestCounts(numRequests, given.length));
  // blocks of one size: a block's throughput depends on its size (ramp-up and drain)
  const uneven = paired.numRequests.find((n) => o.toggleCapture !== undefined && n % o.toggleCapture !== 0);
  if (uneven !== undefined)
    throw new UserError(
      `--toggle-capture: ${o.toggleCapture} blocks of equal size need every level's --num-requests to be a multiple of ${o.toggleCapture} (got ${uneven})`,
      EXIT_ENV,
    );
  return {
    ...o,
    python: o.python ?? defaults.python,
    outDir,
    mode: requestRate !== undefined ? "rate" : "concurrency",
    ...paired,
  };
}
