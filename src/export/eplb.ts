// --format eplb: per-layer expert load as one .npy, int64 [layers, experts], the `weight` input of
// DeepSeek's eplb.py (rebalance_experts) and the per-layer counts KTransformers and MoE-Infinity
// take. Row i is the i-th logged layer in ascending layer order; counts are token x top-k
// assignments (a row routing to e counts once for e). Memory: one counter per (layer, expert).
import path from "node:path";
import type { RoutesMeta } from "../routes/schema.js";
import { writeFileAtomic } from "../artifacts/atomic-write.js";
import { encodeNpy } from "../artifacts/npy.js";
import type { ExportFormat, ExportSink } from "./format.js";

export const EPLB_FILE = "expert_counts.npy";

export const eplbFormat: ExportFormat = {
  name: "eplb",
  description: `${EPLB_FILE}: int64 [layers, experts] assignment counts (DeepSeek eplb.py's weight)`,
  begin(): ExportSink {
    let counts: Float64Array[] = [];
    let cap = 0;
    let layers: readonly number[] = [];
    return {
      onMeta(meta: RoutesMeta) {
        layers = meta.layers_logged;
        cap = meta.num_experts ?? 64;
        counts = layers.map(() => new Float64Array(cap));
      },
      onRow(row, _req, li) {
        const ids = row.topk_ids;
        for (let j = 0; j < ids.length; j++) {
          const e = ids[j]!;
          if (e >= cap) {
            // num_experts not declared: widen (ids are bounded by the schema's MAX_EXPERT_ID).
            const wider = Math.max(cap * 2, e + 1);
            counts = counts.map((c) => {
              const w = new Float64Array(wider);
              w.set(c);
              return w;
            });
            cap = wider;
          }
          counts[li]![e]!++;
        }
      },
      async finish(read, outDir) {
        const E = read.numExperts;
        const order = layers.map((l, i) => [l, i] as const).sort((a, b) => a[0] - b[0]);
        const data = new BigInt64Array(order.length * E);
        order.forEach(([, li], r) => {
          for (let e = 0; e < E; e++) data[r * E + e] = BigInt(counts[li]![e]!);
        });
        const shape = [order.length, E];
        await writeFileAtomic(path.join(outDir, EPLB_FILE), encodeNpy("<i8", shape, data));
        const sorted = order.map(([l]) => l);
        const contiguous = sorted.every((l, i) => l === i);
        return {
          files: [{ file: EPLB_FILE, what: "assignments per layer (row) and expert (column)", dtype: "<i8", shape }],
          details: { layers: sorted, num_experts: E, num_experts_source: read.numExpertsSource },
          notes: contiguous
            ? []
            : [
                `rows are layers ${sorted.join(",")}, not 0..${sorted.length - 1}: tools that index rows by layer need the model's other layers filled in`,
              ],
        };
      },
      async dispose() {},
    };
  },
};
