// A synthetic "second run" of a routes log, for trying `moe-prof compare`: the same requests, with
// routing that drifts the way two numerically different runs drift. Per request a divergence
// position in its generated part is drawn (none for a share of requests); from there on, each
// row's lowest-weight
// expert is replaced by another with probability --flip, the top-1 too with probability
// --flip / 4, token_id changes, and the request may stop a few tokens earlier. Seeded; streams.
// Not a model run: say so wherever its output is shown.
import { createReadStream, openSync, writeSync, closeSync } from "node:fs";
import { createInterface } from "node:readline";
import { mulberry32 } from "./synth-routes.js";

export interface PerturbOptions {
  seed: number;
  /** Share of requests that never diverge. */
  keep: number;
  /** Per-row probability of replacing the lowest-weight expert after the divergence point. */
  flip: number;
}

interface Row {
  req_id: string;
  token_idx: number;
  topk_ids: number[];
  topk_weights: number[];
  token_id?: number;
  phase?: string;
  [key: string]: unknown;
}

/** Writes the perturbed copy; returns [rows written, requests diverged]. */
export async function perturbRoutes(input: string, output: string, o: PerturbOptions): Promise<[number, number]> {
  const rnd = mulberry32(o.seed);
  const lines = createInterface({ input: createReadStream(input), crlfDelay: Infinity });
  const fd = openSync(output, "w");
  let experts = 0;
  const plan = new Map<string, { from: number; cut: number }>();
  let rows = 0;
  try {
    let first = true;
    for await (const line of lines) {
      if (line === "") continue;
      if (first) {
        const meta = JSON.parse(line) as { num_experts?: number; model_id: string };
        experts = meta.num_experts ?? 0;
        meta.model_id = `${meta.model_id} (perturbed copy: scripts/perturb-routes.ts)`;
        writeSync(fd, JSON.stringify(meta) + "\n");
        first = false;
        continue;
      }
      const r = JSON.parse(line) as Row;
      experts = Math.max(experts, ...r.topk_ids.map((e) => e + 1));
      let p = plan.get(r.req_id);
      if (!p && r.phase === "decode") {
        // Divergence a few tokens into generation (prompts are computed identically), counted
        // from the request's first decode row, which the capture writes before any later one.
        const from = rnd() < o.keep ? Infinity : r.token_idx + Math.floor(rnd() * 40);
        p = { from, cut: from === Infinity ? Infinity : from + 5 + Math.floor(rnd() * 80) };
        plan.set(r.req_id, p);
      }
      p ??= { from: Infinity, cut: Infinity };
      if (r.phase === "decode" && r.token_idx >= p.cut) continue; // stopped earlier
      if (r.phase === "decode" && r.token_idx >= p.from) {
        const ids = r.topk_ids;
        const swap = (slot: number) => {
          let e: number;
          do e = Math.floor(rnd() * experts);
          while (ids.includes(e));
          ids[slot] = e;
        };
        if (rnd() < o.flip) swap(ids.length - 1);
        if (rnd() < o.flip / 4) swap(0);
        if (r.token_id !== undefined) r.token_id = (r.token_id * 31 + 7) % 151936;
      }
      writeSync(fd, JSON.stringify(r) + "\n");
      rows++;
    }
  } finally {
    closeSync(fd);
  }
  return [rows, [...plan.values()].filter((p) => p.from !== Infinity).length];
}

// As a command: node dist/scripts/perturb-routes.js IN.jsonl OUT.jsonl [--seed S] [--keep 0.3] [--flip 0.3]
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const { parseArgs } = await import("node:util");
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { seed: { type: "string" }, keep: { type: "string" }, flip: { type: "string" } },
  });
  const [input, output] = positionals;
  if (!input || !output) {
    process.stderr.write(
      "usage: node dist/scripts/perturb-routes.js IN.jsonl OUT.jsonl [--seed S] [--keep 0.3] [--flip 0.3]\n",
    );
    process.exit(2);
  }
  const [rows, diverged] = await perturbRoutes(input, output, {
    seed: Number(values.seed ?? 1),
    keep: Number(values.keep ?? 0.3),
    flip: Number(values.flip ?? 0.3),
  });
  process.stdout.write(`${output}: ${rows} route rows, ${diverged} requests diverged\n`);
}
