// --format eplb: per-layer expert load as one .npy, int64 [layers, experts], the `weight` input of
// DeepSeek's eplb.py (rebalance_experts) and the per-layer counts KTransformers and MoE-Infinity
// take. Row i is the i-th logged layer in ascending layer order; counts are token x top-k
// assignments (a row routing to e counts once for e). Memory: one counter per (layer, expert).
import path from "node:path";
import type { RoutesMeta } from "../routes/schema.js";
import { writeFileAtomic } from "../artifacts/atomic-write.js";
import { encodeNpy } from "../artifacts/npy.js";
import { LayerExpertCounts } from "../analysis/layer-expert-counts.js";
import type { ExportFormat, ExportSink } from "./format.js";

export const EPLB_FILE = "expert_counts.npy";

export const eplbFormat: ExportFormat = {
  name: "eplb",
  description: `${EPLB_FILE}: int64 [layers, experts] assignment counts (DeepSeek eplb.py's weight)`,
  begin(): ExportSink {
    let counts = new LayerExpertCounts(0, undefined);
    let layers: readonly number[] = [];
    return {
      onMeta(meta: RoutesMeta) {
        layers = meta.layers_logged;
        counts = new LayerExpertCounts(layers.length, meta.num_experts);
      },
      onRow(row, _req, li) {
        for (const e of row.topk_ids) counts.add(li, e);
      },
      async finish(read, outDir) {
        const E = read.numExperts;
        const order = layers.map((l, i) => [l, i] as const).sort((a, b) => a[0] - b[0]);
        const data = new BigInt64Array(order.length * E);
        order.forEach(([, li], r) => {
          for (let e = 0; e < E; e++) data[r * E + e] = BigInt(counts.counts[li]![e]!);
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
