// Independent, deliberately plain implementations of the what-if definitions (APPENDIX.md
// "What-if analyses"), written from the definitions and not from src/: the tests hold the
// streaming code to these on small and randomised logs. Slow on purpose-free code paths.
import { mulberry32 } from "../scripts/synth-routes.js";

// The seeded generator the synthetic logs use (not under test here), for the tests that import it from here.
export { mulberry32 };

export interface Row {
  req_id: string;
  token_idx: number;
  layer: number;
  topk_ids: number[];
  topk_weights: number[];
  step?: number;
  phase?: string;
  token_id?: number;
}

export function parseLog(text: string): { meta: Record<string, unknown>; rows: Row[] } {
  const lines = text.split("\n").filter((l) => l.length > 0);
  return { meta: JSON.parse(lines[0]!), rows: lines.slice(1).map((l) => JSON.parse(l) as Row) };
}

export function top1(r: Row): number {
  let best = 0;
  for (let i = 1; i < r.topk_ids.length; i++) if (r.topk_weights[i]! > r.topk_weights[best]!) best = i;
  return r.topk_ids[best]!;
}

// ---------------------------------------------------------------- cache

/** Access sequence of one layer: requests in order of first appearance, tokens ascending, ids in row order. */
export function requestSequence(rows: Row[], layer: number): number[] {
  const firstSeen: string[] = [];
  for (const r of rows) if (!firstSeen.includes(r.req_id)) firstSeen.push(r.req_id);
  const out: number[] = [];
  for (const req of firstSeen) {
    const mine = rows.filter((r) => r.layer === layer && r.req_id === req).sort((a, b) => a.token_idx - b.token_idx);
    for (const r of mine) out.push(...r.topk_ids);
  }
  return out;
}

/** Steps ascending; per step the distinct ids ascending. */
export function stepSequence(rows: Row[], layer: number): number[] {
  const steps = [...new Set(rows.filter((r) => r.layer === layer).map((r) => r.step!))].sort((a, b) => a - b);
  const out: number[] = [];
  for (const s of steps) {
    const ids = new Set<number>();
    for (const r of rows) if (r.layer === layer && r.step === s) for (const e of r.topk_ids) ids.add(e);
    out.push(...[...ids].sort((a, b) => a - b));
  }
  return out;
}

/** Hits of one cache of capacity C over seq, simulated access by access. */
export function bruteCacheHits(seq: number[], E: number, C: number, policy: string): number {
  const cache: number[] = [];
  const lastUse = new Map<number, number>();
  const uses = new Map<number, number>();
  let pinned: Set<number> | null = null;
  if (policy === "static") {
    const cnt = Array.from({ length: E }, (_, e) => seq.filter((x) => x === e).length);
    const order = Array.from({ length: E }, (_, e) => e).sort((a, b) => cnt[b]! - cnt[a]! || a - b);
    pinned = new Set(order.slice(0, C));
  }
  let hits = 0;
  for (let t = 0; t < seq.length; t++) {
    const x = seq[t]!;
    if (cache.includes(x)) hits++;
    else if (pinned) {
      if (pinned.has(x)) cache.push(x);
    } else {
      if (cache.length === C) {
        let victim = cache[0]!;
        for (const y of cache) {
          if (policy === "lru") {
            if (lastUse.get(y)! < lastUse.get(victim)!) victim = y;
          } else if (policy === "lfu") {
            const uy = uses.get(y)!;
            const uv = uses.get(victim)!;
            if (uy < uv || (uy === uv && lastUse.get(y)! < lastUse.get(victim)!)) victim = y;
          } else {
            const ny = nextAccess(seq, t, y);
            const nv = nextAccess(seq, t, victim);
            if (ny > nv || (ny === nv && y < victim)) victim = y;
          }
        }
        cache.splice(cache.indexOf(victim), 1);
      }
      cache.push(x);
    }
    lastUse.set(x, t);
    uses.set(x, (uses.get(x) ?? 0) + 1);
  }
  return hits;
}

function nextAccess(seq: number[], t: number, e: number): number {
  for (let u = t + 1; u < seq.length; u++) if (seq[u] === e) return u;
  return Infinity;
}

// ---------------------------------------------------------------- small helpers

/** k distinct ids from [0, E), skewed towards low ids (so caches and placements have something to find). */
export function pickIds(rnd: () => number, E: number, k: number, skew = 2): number[] {
  const out: number[] = [];
  while (out.length < k) {
    const e = Math.min(E - 1, Math.floor(E * Math.pow(rnd(), skew)));
    if (!out.includes(e)) out.push(e);
  }
  return out;
}

export interface RandomLogOptions {
  seed: number;
  requests: number;
  layers: number[];
  experts: number;
  topK: number;
  maxTokens: number;
  withStep?: boolean;
  /** Write rows token-major (all layers of a token together) instead of layer-major per step. */
  tokenMajor?: boolean;
  declareExperts?: boolean;
}

/** A valid random log: requests run as a batch, one step = one token of every running request. */
export function randomLog(o: RandomLogOptions): string {
  const rnd = mulberry32(o.seed);
  const meta: Record<string, unknown> = {
    type: "meta",
    model_id: "test/random",
    vllm_version: "0.15.1",
    torch_version: "2.9.0",
    device: "cpu",
    seed: o.seed,
    layers_logged: o.layers,
    top_k: o.topK,
  };
  if (o.declareExperts !== false) meta.num_experts = o.experts;
  const lines = [JSON.stringify(meta)];
  const lens = Array.from({ length: o.requests }, () => 1 + Math.floor(rnd() * o.maxTokens));
  const prompt = lens.map((n) => Math.max(1, Math.floor(n / 2)));
  const maxLen = Math.max(...lens);
  let step = 0;
  for (let t = 0; t < maxLen; t++) {
    const running = lens.map((n, r) => (t < n ? r : -1)).filter((r) => r >= 0);
    const row = (r: number, layer: number) => {
      const ids = pickIds(rnd, o.experts, o.topK);
      const ws = ids.map(() => Math.round(rnd() * 1000) / 1000);
      const extra: Record<string, unknown> = {
        phase: t < prompt[r]! ? "prefill" : "decode",
        token_id: Math.floor(rnd() * 1000),
      };
      if (o.withStep !== false) extra.step = step;
      lines.push(
        JSON.stringify({
          type: "route",
          req_id: `q${r}`,
          token_idx: t,
          layer,
          topk_ids: ids,
          topk_weights: ws,
          ...extra,
        }),
      );
    };
    if (o.tokenMajor) for (const r of running) for (const layer of o.layers) row(r, layer);
    else for (const layer of o.layers) for (const r of running) row(r, layer);
    step++;
  }
  return lines.join("\n") + "\n";
}
