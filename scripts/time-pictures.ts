// How long hist's pictures take to draw one after another, and at once through p-limit (PNG
// encoding on libuv's threads overlaps the next picture's drawing). Figures: APPENDIX.md
// "Pictures drawn at once".
//   node dist/scripts/time-pictures.js [--repeats 5]
import os from "node:os";
import path from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import { parseArgs } from "node:util";
import { writeSynthRoutes, DEFAULT_SYNTH } from "./synth-routes.js";
import { analyseRoutesFile } from "../src/log-scan/analyse-routes.js";
import { histPictureFiles, PICTURE_CONCURRENCY } from "../src/render/hist-pictures.js";

const { values } = parseArgs({ options: { repeats: { type: "string", default: "5" } } });
const repeats = Number(values.repeats);
const dir = mkdtempSync(path.join(os.tmpdir(), "moe-prof-time-pictures-"));
try {
  const shapes = [
    { name: "24 layers x 60 experts (Qwen1.5-MoE)", layers: 24, experts: 60, topK: 4, requests: 4 },
    { name: "48 layers x 128 experts (Qwen3-30B-A3B)", layers: 48, experts: 128, topK: 8, requests: 2 },
    { name: "58 layers x 256 experts (DeepSeek-V3)", layers: 58, experts: 256, topK: 8, requests: 1 },
  ];
  console.log(
    `${os.cpus()[0]?.model ?? "cpu"}, ${os.availableParallelism()} cores, load ${os.loadavg()[0]!.toFixed(2)}; ${repeats} interleaved repeats, medians`,
  );
  for (const s of shapes) {
    const file = path.join(dir, `${s.layers}x${s.experts}.jsonl`);
    writeSynthRoutes(file, {
      ...DEFAULT_SYNTH,
      layers: s.layers,
      experts: s.experts,
      topK: s.topK,
      requests: s.requests,
      batch: s.requests,
      decodeTokens: [20, 40],
    });
    const { summary } = await analyseRoutesFile(file, {});
    await histPictureFiles(summary, 1); // warm-up: module loading, fonts
    const one: number[] = [];
    const many: number[] = [];
    const bytes = [0, 0];
    for (let r = 0; r < repeats; r++) {
      for (const [limit, into, k] of [
        [1, one, 0],
        [PICTURE_CONCURRENCY, many, 1],
      ] as const) {
        const t0 = performance.now();
        const files = await histPictureFiles(summary, limit);
        into.push(performance.now() - t0);
        bytes[k] = files.reduce((a, f) => a + f.data.length, 0);
      }
    }
    if (bytes[0] !== bytes[1]) throw new Error("the two ways made different PNG sizes");
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    console.log(
      `${s.name}: one at a time ${med(one).toFixed(0)} ms, at once (limit ${PICTURE_CONCURRENCY}) ${med(many).toFixed(0)} ms, ${(bytes[0]! / 1024).toFixed(0)} KiB of PNG`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
