// Seeded synthetic routes logs shaped like the capture's: a meta line, then per engine step the
// rows of every layer for every token the step computed (prefill chunks, then one decode token
// per running request). Routing is skewed (Zipf-like per-layer expert popularity) with some
// top-1 persistence between consecutive tokens. Used by scripts/bench-hist and to make examples.
import { openSync, writeSync, closeSync, mkdirSync } from "node:fs";
import path from "node:path";
// The seeded generator lives in src/ (the load generator draws from it too); re-exported for the
// scripts and tests that import it from here.
import { mulberry32 } from "../src/random.js";
export { mulberry32 };

export interface SynthOptions {
  seed: number;
  requests: number;
  layers: number;
  experts: number;
  topK: number;
  /** Zipf exponent of expert popularity (0 = uniform). */
  skew: number;
  promptTokens: [number, number];
  decodeTokens: [number, number];
  /** Requests running at once. */
  batch: number;
  /** Write num_experts, phase, step, token_id (the newer capture) or only the seed schema. */
  optionalFields: boolean;
  modelId: string;
}

export const DEFAULT_SYNTH: SynthOptions = {
  seed: 1,
  requests: 25,
  layers: 24,
  experts: 60,
  topK: 4,
  skew: 1.1,
  promptTokens: [60, 180],
  decodeTokens: [100, 300],
  batch: 25,
  optionalFields: true,
  modelId: "synthetic-moe (scripts/synth-routes.ts)",
};

/** Writes the log; returns the number of route rows. */
export function writeSynthRoutes(file: string, o: SynthOptions): number {
  const rnd = mulberry32(o.seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  // Per layer: cumulative popularity over a random permutation of the experts.
  const cdfs = Array.from({ length: o.layers }, () => {
    const perm = Array.from({ length: o.experts }, (_, i) => i);
    for (let i = perm.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [perm[i], perm[j]] = [perm[j]!, perm[i]!];
    }
    const w = new Float64Array(o.experts);
    perm.forEach((e, rank) => (w[e] = 1 / Math.pow(rank + 1, o.skew)));
    const sum = w.reduce((a, b) => a + b, 0);
    let acc = 0;
    return Array.from(w, (x) => (acc += x / sum));
  });
  const pick = (cdf: number[]) => {
    const u = rnd();
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const lastTop1 = new Int32Array(o.requests * o.layers).fill(-1);

  const fd = openSync(file, "w");
  let buf: string[] = [];
  let bufLen = 0;
  const out = (s: string) => {
    buf.push(s);
    bufLen += s.length;
    if (bufLen > 1 << 20) {
      writeSync(fd, buf.join(""));
      buf = [];
      bufLen = 0;
    }
  };

  const meta: Record<string, unknown> = {
    type: "meta",
    model_id: o.modelId,
    vllm_version: "0.15.1",
    torch_version: "2.9.0+cu128",
    device: "NVIDIA H100 80GB HBM3",
    seed: o.seed,
    layers_logged: Array.from({ length: o.layers }, (_, i) => i),
    top_k: o.topK,
  };
  if (o.optionalFields)
    Object.assign(meta, {
      num_experts: o.experts,
      schema_version: 1,
      engine: "vllm",
      created_at: "2026-11-26T14:00:00Z",
    });
  out(JSON.stringify(meta) + "\n");

  let rows = 0;
  let step = 0;
  const ids = new Int32Array(o.topK);
  const row = (req: number, t: number, layer: number, phase: string) => {
    const slot = req * o.layers + layer;
    // Some persistence: a token often keeps its predecessor's top-1 expert.
    ids[0] = t > 0 && lastTop1[slot]! >= 0 && rnd() < 0.25 ? lastTop1[slot]! : pick(cdfs[layer]!);
    for (let i = 1; i < o.topK; i++) {
      let e: number;
      do e = pick(cdfs[layer]!);
      while (ids.subarray(0, i).includes(e));
      ids[i] = e;
    }
    lastTop1[slot] = ids[0]!;
    // Softmax-like decreasing weights of the chosen experts.
    let rest = 1;
    const ws: string[] = [];
    for (let i = 0; i < o.topK; i++) {
      const w = i === o.topK - 1 ? rest * 0.5 : rest * (0.35 + 0.3 * rnd());
      rest -= w;
      ws.push(w.toFixed(4));
    }
    let line = `{"type":"route","req_id":"${req}","token_idx":${t},"layer":${layer},"topk_ids":[${ids.join(",")}],"topk_weights":[${ws.join(",")}]`;
    if (o.optionalFields) line += `,"phase":"${phase}","step":${step},"token_id":${int(0, 151_935)}`;
    out(line + "}\n");
    rows++;
  };

  for (let first = 0; first < o.requests; first += o.batch) {
    const batch = Array.from({ length: Math.min(o.batch, o.requests - first) }, (_, i) => ({
      req: first + i,
      prompt: int(...o.promptTokens),
      decode: int(...o.decodeTokens),
    }));
    for (let layer = 0; layer < o.layers; layer++)
      for (const r of batch) for (let t = 0; t < r.prompt; t++) row(r.req, t, layer, "prefill");
    step++;
    for (let d = 0; ; d++) {
      const running = batch.filter((r) => d < r.decode);
      if (running.length === 0) break;
      for (let layer = 0; layer < o.layers; layer++) for (const r of running) row(r.req, r.prompt + d, layer, "decode");
      step++;
    }
  }
  writeSync(fd, buf.join(""));
  closeSync(fd);
  return rows;
}

// As a command: node dist/scripts/synth-routes.js OUT.jsonl [--requests N] [--seed S] [--model-id ID] [--seed-schema]
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const { parseArgs } = await import("node:util");
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      requests: { type: "string" },
      seed: { type: "string" },
      "model-id": { type: "string" },
      "seed-schema": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const usage =
    "usage: node dist/scripts/synth-routes.js OUT.jsonl [--requests N] [--seed S] [--model-id ID] [--seed-schema]\n" +
    `Writes a seeded synthetic routes log shaped like the capture's (${DEFAULT_SYNTH.layers} layers, ${DEFAULT_SYNTH.experts} experts, top-${DEFAULT_SYNTH.topK}; ` +
    `default ${DEFAULT_SYNTH.requests} requests, seed ${DEFAULT_SYNTH.seed}). --seed-schema: only the original fields (no num_experts, phase, step, token_id).\n`;
  if (values.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  const out = positionals[0];
  if (!out) {
    process.stderr.write(usage);
    process.exit(2);
  }
  mkdirSync(path.dirname(out), { recursive: true });
  const rows = writeSynthRoutes(out, {
    ...DEFAULT_SYNTH,
    requests: values.requests ? Number(values.requests) : DEFAULT_SYNTH.requests,
    seed: values.seed ? Number(values.seed) : DEFAULT_SYNTH.seed,
    modelId: values["model-id"] ?? "synthetic-moe (scripts/synth-routes.ts)",
    optionalFields: !values["seed-schema"],
  });
  process.stdout.write(`${out}: ${rows} route rows\n`);
}
