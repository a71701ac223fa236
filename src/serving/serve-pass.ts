// One pass of `moe-prof serve`: a fresh server (routes capture on or off), /health, an untimed
// warm-up, every load level in turn, a clean stop, and what the stop left of the routes log.
import { existsSync } from "node:fs";
import path from "node:path";
import { UserError, EXIT_INVALID, EXIT_INTERRUPTED } from "../errors.js";
import { workerEnv } from "../worker/run-worker.js";
import type { PlannedPass, ServePassKind } from "../passes/plan.js";
import { freePort, startServer, stopServer, waitHealthy, serverLastLine, type StopHow } from "./server-process.js";
import { runLoad, type LoadRun, type LoadShape, type LoadSpec } from "./load.js";
import { summariseLoad, type LoadSummary } from "./load-summary.js";
import { setCapture, DEV_MODE_ENV, type CaptureState } from "./capture-switch.js";
import type { RequestRecord, RequestSettings } from "./stream-request.js";

export interface ServePlan {
  python: string;
  model: string;
  /** Arguments after the model: seed, prefix caching off, the user's --server-arg values. */
  serverArgs: string[];
  settings: RequestSettings;
  prompts: readonly string[];
  /** Each load level with the requests sent at it. */
  shapes: { shape: LoadShape; count: number }[];
  timeLimitS: number;
  abortFraction: number;
  abortAfterTokenChunks: number;
  warmupRequests: number;
  seed: number;
  healthTimeoutS: number;
  stopTimeoutS: number;
  /** The capture's format on log passes (VLLM_LOG_MOE_FORMAT); routesPath already ends with it. */
  logFormat: "jsonl" | "parquet";
  /** `--toggle-capture`: log passes send each level in this many blocks, capture on and paused in
   * turn (on, paused, paused, on, ...); null: one block, capture on. */
  toggleBlocks: number | null;
}

/** One block of a level under `--toggle-capture`. */
export interface BlockResult {
  /** The log pass's capture in this block; the paused server's "paused"; "none" without a capture. */
  capture: CaptureState | "none";
  summary: LoadSummary;
  records: RequestRecord[];
}

export interface LevelResult {
  /** Requests in flight (concurrency) or requests/s (rate). */
  level: number;
  /** With `--toggle-capture`: of the blocks at the positions where the log pass has its capture
   * on, in every pass (what log vs no-log compares); `complete` and `stopped_by` of all blocks. */
  summary: LoadSummary;
  /** Every request of the level, all blocks. */
  records: RequestRecord[];
  /** `--toggle-capture`: each block in the order sent. */
  blocks?: BlockResult[];
}

export interface ServedPass {
  planned: PlannedPass<ServePassKind>;
  command: string[];
  startup_s: number;
  warmup: RequestRecord[];
  levels: LevelResult[];
  stopped_by: StopHow;
  /** Log passes: "complete" (renamed by the capture at shutdown), "partial" (only <log>.partial). */
  routes_log: "complete" | "partial" | null;
}

export const levelOf = (s: LoadShape) => (s.kind === "rate" ? s.rate : s.concurrency);

/** vLLM's own capture of routed experts (0.20.2: returned per request; about half the throughput). */
export const VLLM_CAPTURE_ARG = "--enable-return-routed-experts";

/** The server's command line: the venv's Python running vLLM's OpenAI server module. */
export function serverCommand(plan: ServePlan, port: number, pass: ServePassKind = "no_log"): string[] {
  return [
    "-m",
    "vllm.entrypoints.openai.api_server",
    "--model",
    plan.model,
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    ...plan.serverArgs,
    ...(pass === "vllm_capture" ? [VLLM_CAPTURE_ARG] : []),
  ];
}

const SET_PER_PASS = new Set(["VLLM_LOG_MOE", "VLLM_LOG_MOE_FORMAT", "VLLM_LOG_MOE_PAUSED"]);

/** The environment of the server: ours without the VLLM_LOG_MOE variables a pass sets, plus the
 * capture's path and format on a log pass, and VLLM_LOG_MOE_PAUSED on a paused one (a format or a
 * pause left in the caller's shell must not change what a pass writes). `devMode`: /collective_rpc
 * served (--toggle-capture), set in every pass so that the arms differ only in the capture. */
export function serverEnv(
  routesPath: string | null,
  logFormat: ServePlan["logFormat"] = "jsonl",
  paused = false,
  devMode = false,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !SET_PER_PASS.has(k)) env[k] = v;
  const capture: Record<string, string> = routesPath
    ? { VLLM_LOG_MOE: routesPath, VLLM_LOG_MOE_FORMAT: logFormat, ...(paused ? { VLLM_LOG_MOE_PAUSED: "1" } : {}) }
    : {};
  return { ...env, ...(devMode ? { [DEV_MODE_ENV]: "1" } : {}), ...workerEnv(capture) };
}

/** `count` requests in `blocks` blocks of nearly equal size, the capture on and paused in ABBA
 * pairs (on, paused, paused, on, ...): a drift over the level falls on both states alike. */
export function toggleBlocks(count: number, blocks: number): Array<{ capture: CaptureState; count: number }> {
  const base = Math.floor(count / blocks);
  return Array.from({ length: blocks }, (_, i) => {
    const pair = Math.floor(i / 2);
    const first: CaptureState = pair % 2 === 0 ? "on" : "paused";
    const capture: CaptureState = i % 2 === 0 ? first : first === "on" ? "paused" : "on";
    return { capture, count: base + (i < count % blocks ? 1 : 0) };
  });
}

/** A finished block into its level: the level's summary is of the blocks at the positions where
 * the log pass has its capture on, in every pass (the same positions and weights: the first block
 * of a level, which pays the server's first batches at that load, counts alike everywhere); its
 * `complete` and `stopped_by` are of all blocks. Returns the block's own summary. */
export function addBlock(
  entry: LevelResult,
  planned: ReadonlyArray<{ capture: CaptureState; count: number }>,
  onRuns: LoadRun[],
  run: LoadRun,
  state: BlockResult["capture"],
): LoadSummary {
  const blocks = entry.blocks!;
  const i = blocks.length;
  const summary = summariseLoad(run, planned[i]!.count);
  blocks.push({ capture: state, summary, records: run.records });
  entry.records.push(...run.records);
  if (planned[i]!.capture === "on") onRuns.push(run);
  const onCount = planned.slice(0, i + 1).reduce((a, b) => a + (b.capture === "on" ? b.count : 0), 0);
  const merged = summariseLoad(mergeRuns(onRuns), onCount);
  const all = blocks.map((b) => b.summary);
  entry.summary = {
    ...merged,
    complete: blocks.length === planned.length && all.every((x) => x.complete),
    stopped_by: all.find((x) => x.stopped_by !== "count")?.stopped_by ?? "count",
  };
  return summary;
}

/** Several loads at one level as one: their requests, their walls added (the drains between blocks
 * are not load time), the first reason to stop that was not the count. */
export function mergeRuns(runs: LoadRun[]): LoadRun {
  return {
    records: runs.flatMap((r) => r.records),
    not_sent: runs.reduce((a, r) => a + r.not_sent, 0),
    wall_s: runs.reduce((a, r) => a + r.wall_s, 0),
    stopped_by: runs.find((r) => r.stopped_by !== "count")?.stopped_by ?? "count",
  };
}

/** A pass that did not finish, with what it measured before (for the unfinished serving.json). */
export class PassFailure extends UserError {
  constructor(
    message: string,
    readonly partial: Partial<ServedPass>,
    exitCode = EXIT_INVALID,
  ) {
    super(message, exitCode);
  }
}

export async function runServePass(
  plan: ServePlan,
  planned: PlannedPass<ServePassKind>,
  logsDir: string,
  note: (line: string) => void,
  signal: AbortSignal,
): Promise<ServedPass> {
  const port = await freePort();
  const args = serverCommand(plan, port, planned.pass);
  const logPath = path.join(logsDir, `server-${planned.pass}-${planned.repeat}.log`);
  const server = startServer(plan.python, args, {
    port,
    env: serverEnv(planned.routesPath, plan.logFormat, planned.pass === "log_paused", plan.toggleBlocks !== null),
    logPath,
  });
  const partial: Partial<ServedPass> = { planned, command: [plan.python, ...args], levels: [] };
  let stopped: StopHow | null = null;
  const stop = async () => (stopped ??= await stopServer(server, plan.stopTimeoutS * 1000));
  const onAbort = () => void stop();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const startup = await waitHealthy(server, plan.healthTimeoutS * 1000, signal);
    partial.startup_s = startup;
    note(`  ${planned.label}: server up on 127.0.0.1:${port} after ${startup.toFixed(1)} s`);
    const spec = (shape: LoadShape, count: number, abort: number): LoadSpec => ({
      url: server.url,
      settings: plan.settings,
      prompts: plan.prompts,
      shape,
      count,
      timeLimitS: plan.timeLimitS,
      abortFraction: abort,
      abortAfterTokenChunks: plan.abortAfterTokenChunks,
      seed: plan.seed,
    });
    const warm = plan.warmupRequests
      ? await runLoad(spec({ kind: "concurrency", concurrency: 1 }, plan.warmupRequests, 0))
      : null;
    partial.warmup = warm?.records ?? [];
    if (warm && summariseLoad(warm, plan.warmupRequests).requests.ok !== plan.warmupRequests)
      throw failure(`the warm-up requests failed: ${warm.records.find((r) => r.error)?.error ?? "no answer"}`);
    // --toggle-capture: every pass sends each level in the same blocks (the same drains between
    // them), and the log pass switches its capture between them
    const switching = planned.pass === "log";
    const fixed: BlockResult["capture"] = planned.pass === "log_paused" ? "paused" : "none";
    let capture: CaptureState = "on"; // a log pass starts logging (VLLM_LOG_MOE_PAUSED is stripped)
    for (const { shape, count } of plan.shapes) {
      const name = `${shape.kind} ${levelOf(shape)}`;
      if (plan.toggleBlocks === null) {
        if (signal.aborted) throw new UserError(`interrupted during the ${planned.label} pass`, EXIT_INTERRUPTED);
        const run = await runLoad(spec(shape, count, plan.abortFraction));
        const summary = summariseLoad(run, count);
        partial.levels!.push({ level: levelOf(shape), summary, records: run.records });
        note(`  ${planned.label}: ${name}: ${levelLine(summary)}`);
        throwIfServerGone(run, summary, name);
        continue;
      }
      const plannedBlocks = toggleBlocks(count, plan.toggleBlocks);
      // in partial.levels from the start: a failure mid-level keeps the blocks measured before it
      const entry: LevelResult = {
        level: levelOf(shape),
        summary: summariseLoad(mergeRuns([]), 0),
        records: [],
        blocks: [],
      };
      partial.levels!.push(entry);
      const runs: LoadRun[] = [];
      const levelStart = performance.now();
      for (const [i, b] of plannedBlocks.entries()) {
        if (signal.aborted) throw new UserError(`interrupted during the ${planned.label} pass`, EXIT_INTERRUPTED);
        // the level's time limit bounds all its blocks together: past it, nothing more is sent
        const left = plan.timeLimitS - (performance.now() - levelStart) / 1000;
        const state = switching ? b.capture : fixed;
        if (left <= 0) {
          const run: LoadRun = { records: [], not_sent: b.count, wall_s: 0, stopped_by: "time-limit" };
          addBlock(entry, plannedBlocks, runs, run, state);
          continue;
        }
        if (switching && b.capture !== capture) {
          // every request of the block before has ended at the client: none is half logged
          await setCapture(server.url, b.capture).catch((e: Error) => {
            throw failure(e.message);
          });
          capture = b.capture;
        }
        const run = await runLoad({ ...spec(shape, b.count, plan.abortFraction), timeLimitS: left });
        const summary = addBlock(entry, plannedBlocks, runs, run, state);
        note(`  ${planned.label}: ${name}, block ${i + 1}/${plannedBlocks.length} (${state}): ${levelLine(summary)}`);
        throwIfServerGone(run, summary, name);
      }
    }
  } catch (err) {
    await stop();
    throw err instanceof PassFailure || !(err instanceof UserError)
      ? err
      : new PassFailure(err.message, partial, err.exitCode);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  const how = await stop();
  const routes_log = logState(planned.routesPath);
  note(`  ${planned.label}: server stopped (${how})${routes_log ? `, routes log ${routes_log}` : ""}`);
  return {
    ...(partial as ServedPass),
    warmup: partial.warmup ?? [],
    stopped_by: how,
    routes_log,
  };

  function throwIfServerGone(run: LoadRun, summary: LoadSummary, name: string): void {
    if (run.stopped_by !== "server-gone") return;
    const first = run.records.find((r) => r.connection_lost)?.error ?? "";
    throw failure(
      `the server stopped answering at ${name}: ${summary.requests.failed} requests failed, ${summary.requests.not_sent} not sent (${first})`,
    );
  }

  function failure(what: string): PassFailure {
    const last = server.hasExited() ? `; its last line: ${serverLastLine(server)}` : "";
    return new PassFailure(`${planned.label} pass: ${what}${last} (server output: ${logPath})`, partial);
  }
}

function logState(p: string | null): ServedPass["routes_log"] {
  if (p === null) return null;
  if (existsSync(p)) return "complete";
  if (existsSync(`${p}.partial`)) return "partial";
  throw new UserError(
    `no routes log at ${p} after the log pass: does the server's vLLM carry the moe-prof patch (\`moe-prof patch apply\`)?`,
    EXIT_INVALID,
  );
}

export function levelLine(s: LoadSummary): string {
  const ms = (x: number | null) => (x === null ? "n/a" : `${(x * 1000).toFixed(1)}`);
  const r = s.requests;
  return (
    `${r.ok}/${r.planned} ok${r.aborted ? `, ${r.aborted} disconnected` : ""}${r.failed ? `, ${r.failed} FAILED` : ""}${r.cut ? `, ${r.cut} cut at the time limit` : ""}${r.not_sent ? `, ${r.not_sent} not sent` : ""}` +
    ` | TTFT p50/p99 ${ms(s.ttft_s.p50)}/${ms(s.ttft_s.p99)} ms | ITL p50/p99 ${ms(s.itl_s.p50)}/${ms(s.itl_s.p99)} ms` +
    ` | ${s.output_tokens_per_s.toFixed(1)} tok/s, ${s.requests_per_s.toFixed(2)} req/s`
  );
}
