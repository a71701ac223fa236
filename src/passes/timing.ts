// timing.json: each pass kind's medians over repeats, and the log/no-log overhead ratios.

export interface PassRecord {
  pass: "no_log" | "log";
  repeat: number;
  wall_s: number; // worker start to exit, model load included
  /** The worker's load phase: importing torch and the engine's libraries, then building the engine. */
  load_s: number;
  /** The part of load_s the engine measures itself (hf: config, weights, tokenizer; vLLM: vllm.LLM(...)). */
  engine_load_s: number | null;
  warmup_s: number;
  generate_s: number; // the measured generation only
  prompt_tokens: number;
  output_tokens: number;
  tokens_per_s: number; // output tokens / generate_s
}

export function median(xs: number[]): number {
  if (xs.length === 0) throw new Error("median of nothing");
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const round = (x: number, d = 4) => Number(x.toFixed(d));

function summarise(records: PassRecord[]) {
  return {
    // unrounded, for the ratios; not written
    raw_tokens_per_s: median(records.map((r) => r.tokens_per_s)),
    raw_generate_s: median(records.map((r) => r.generate_s)),
    raw_wall_s: median(records.map((r) => r.wall_s)),
    wall_s: round(median(records.map((r) => r.wall_s))),
    load_s: round(median(records.map((r) => r.load_s))),
    engine_load_s: records.every((r) => r.engine_load_s !== null)
      ? round(median(records.map((r) => r.engine_load_s!)))
      : null,
    generate_s: round(median(records.map((r) => r.generate_s))),
    prompt_tokens: records[0]!.prompt_tokens,
    output_tokens: records[0]!.output_tokens,
    tokens_per_s: round(median(records.map((r) => r.tokens_per_s)), 2),
    repeats: records,
  };
}

/** Passes on a CPU (the hf engine's `--device cpu`): their ratios are noise, not the cost of
 * logging (two identical CPU runs of the tiny model gave 2.42 and 0.34). */
export const onCpu = (engine: Record<string, unknown>): boolean =>
  typeof engine.device === "string" && engine.device.startsWith("cpu");

export function buildTiming(records: PassRecord[], engine: Record<string, unknown>) {
  const noLog = records.filter((r) => r.pass === "no_log");
  const log = records.filter((r) => r.pass === "log");
  if (noLog.length === 0 || log.length === 0) throw new Error("timing needs at least one no-log and one log pass");
  const { raw_tokens_per_s: aTps, raw_generate_s: aGen, raw_wall_s: aWall, ...a } = summarise(noLog);
  const { raw_tokens_per_s: bTps, raw_generate_s: bGen, raw_wall_s: bWall, ...b } = summarise(log);
  // Each log pass against the no-log pass run just before it: drift between pairs cancels.
  const paired = log
    .map((l) => [l, noLog.find((n) => n.repeat === l.repeat)] as const)
    .filter((p): p is readonly [PassRecord, PassRecord] => p[1] !== undefined)
    .map(([l, n]) => round(l.tokens_per_s / n.tokens_per_s));
  return {
    no_log: a,
    log: b,
    overhead: {
      // > 1 would mean the log pass was faster: noise. The target is >= 0.99.
      tokens_per_s_ratio: round(bTps / aTps),
      paired_tokens_per_s_ratios: paired,
      median_paired_tokens_per_s_ratio: round(median(paired)),
      generate_s_ratio: round(bGen / aGen),
      wall_s_ratio: round(bWall / aWall),
      repeats: noLog.length,
      statistic: "median over repeats",
      cpu_noise: onCpu(engine),
    },
    engine,
  };
}
