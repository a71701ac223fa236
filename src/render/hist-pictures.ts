// The pictures `hist` and `run` write, as functions of a summary. They are independent: drawn at
// once, at most PICTURE_CONCURRENCY at a time (each holds its canvas until encoded), so that one
// picture's PNG encoding, on libuv's threads, overlaps the next one's drawing.
import os from "node:os";
import pLimit from "p-limit";
import type { TopLevelSpec } from "vega-lite";
import type { HistSummary } from "../analysis/summary.js";
import { expertHeatmapSpec, expertHistSpec } from "./specs.js";
import { specToPng } from "./to-png.js";
import { transitionsSpec } from "./transitions-spec.js";
import { HIST_PNG, HEATMAP_PNG, TRANSITIONS_PNG } from "./picture-names.js";

export { HIST_PNG, HEATMAP_PNG, TRANSITIONS_PNG };

/** One picture per core, at most the three there are. */
export const PICTURE_CONCURRENCY = Math.max(1, Math.min(3, os.availableParallelism()));

/** The pictures of a summary, by file name, in the order they are listed (layer_transitions.png only with two consecutive analysed layers). */
export function histPictureSpecs(summary: HistSummary): { name: string; spec: () => TopLevelSpec }[] {
  const out = [
    { name: HIST_PNG, spec: () => expertHistSpec(summary) },
    { name: HEATMAP_PNG, spec: () => expertHeatmapSpec(summary) },
  ];
  const t = summary.layer_transitions;
  if (t !== null) out.push({ name: TRANSITIONS_PNG, spec: () => transitionsSpec(summary, t) });
  return out;
}

/** The pictures as PNG bytes, with their file names, in a fixed order (`hist` publishes them as
 * one set with summary.json). */
export async function histPictureFiles(
  summary: HistSummary,
  concurrency = PICTURE_CONCURRENCY,
): Promise<{ name: string; data: Buffer }[]> {
  const limit = pLimit(concurrency);
  const specs = histPictureSpecs(summary);
  return Promise.all(specs.map(({ name, spec }) => limit(async () => ({ name, data: await specToPng(spec()) }))));
}
