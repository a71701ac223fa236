// A bounded load on a local OpenAI-compatible server: `count` streaming requests, either arriving
// as a Poisson process at `rate` requests/s (open loop: arrivals do not wait for answers, except
// for an optional cap on requests in flight) or kept at a fixed `concurrency` (closed loop). It
// stops by itself: after `count` requests or at `timeLimitS` (requests in flight are then cut),
// and at once when the server stops answering (no new request is sent to a dead server).
import { Pool } from "undici";
import pLimit from "p-limit";
import { mulberry32 } from "../random.js";
import { localOrigin } from "./local-url.js";
import { streamRequest, type RequestRecord, type RequestSettings } from "./stream-request.js";

export type LoadShape =
  { kind: "rate"; rate: number; maxConcurrency: number } | { kind: "concurrency"; concurrency: number };

export interface LoadSpec {
  url: string;
  settings: RequestSettings;
  prompts: readonly string[];
  shape: LoadShape;
  count: number;
  timeLimitS: number;
  /** Fraction of requests that disconnect mid-stream (exactly round(fraction * count), chosen by seed). */
  abortFraction: number;
  /** Those disconnect after this many token chunks. */
  abortAfterTokenChunks: number;
  seed: number;
}

export type StopReason = "count" | "time-limit" | "server-gone";

export interface LoadRun {
  records: RequestRecord[];
  /** Requests never sent: the time limit passed or the server went away first. */
  not_sent: number;
  /** Load start -> last request's end. */
  wall_s: number;
  stopped_by: StopReason;
}

/** Arrival times (s from the start) of a Poisson process: exponential gaps with mean 1 / rate. */
export function poissonArrivals(count: number, rate: number, rnd: () => number): number[] {
  const out: number[] = [];
  let t = 0;
  for (let i = 0; i < count; i++) {
    t += -Math.log(1 - rnd()) / rate; // rnd() in [0, 1): 1 - rnd() never 0
    out.push(t);
  }
  return out;
}

/** Exactly round(fraction * count) distinct request indices, a seeded choice. */
export function abortedIndices(count: number, fraction: number, rnd: () => number): Set<number> {
  const idx = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return new Set(idx.slice(0, Math.round(fraction * count)));
}

export async function runLoad(spec: LoadSpec): Promise<LoadRun> {
  const origin = localOrigin(spec.url);
  const inFlight = spec.shape.kind === "concurrency" ? spec.shape.concurrency : spec.shape.maxConcurrency;
  // keep-alive connections, as many as requests may be in flight (no queueing inside undici)
  const pool = new Pool(origin, {
    connections: Number.isFinite(inFlight) ? inFlight : null,
    keepAliveTimeout: 30_000,
    bodyTimeout: 0, // a long generation is not a dead connection; the load's time limit bounds it
    headersTimeout: 0,
  });
  const rnd = mulberry32(spec.seed);
  const aborting = abortedIndices(spec.count, spec.abortFraction, rnd);
  const arrivals =
    spec.shape.kind === "rate"
      ? poissonArrivals(spec.count, spec.shape.rate, rnd)
      : new Array<number>(spec.count).fill(0);
  const limit = pLimit(inFlight);
  const cut = new AbortController(); // the time limit: requests in flight are disconnected
  const noMore = new AbortController(); // time limit or server gone: nothing more is sent
  let stop: StopReason = "count";
  const start = performance.now();
  const timer = setTimeout(() => {
    stop = "time-limit";
    cut.abort();
    noMore.abort();
  }, spec.timeLimitS * 1000);
  const records: RequestRecord[] = [];
  let notSent = 0;
  const one = async (i: number): Promise<void> => {
    const wait = start + arrivals[i]! * 1000 - performance.now();
    if (wait > 0) await abortableSleep(wait, noMore.signal);
    await limit(async () => {
      if (noMore.signal.aborted) {
        notSent++;
        return;
      }
      const rec = await streamRequest(pool, spec.settings, {
        index: i,
        promptIndex: i % spec.prompts.length,
        prompt: spec.prompts[i % spec.prompts.length]!,
        abortAfterTokenChunks: aborting.has(i) ? spec.abortAfterTokenChunks : null,
        cut: cut.signal,
        loadStart: start,
      });
      records.push(rec);
      if (rec.connection_lost && !noMore.signal.aborted) {
        stop = "server-gone";
        noMore.abort();
      }
    });
  };
  try {
    await Promise.all(Array.from({ length: spec.count }, (_, i) => one(i)));
  } finally {
    clearTimeout(timer);
    await pool.destroy();
  }
  const end = records.reduce((m, r) => Math.max(m, r.sent_at_s + (r.e2e_s ?? 0)), 0);
  records.sort((a, b) => a.index - b.index);
  return { records, not_sent: notSent, wall_s: end, stopped_by: stop };
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
