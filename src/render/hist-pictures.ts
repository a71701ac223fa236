// The pictures `hist` writes, as functions of a summary (also what `run` will call).
import path from "node:path";
import type { HistSummary } from "../analysis/summary.js";
import { writeFileAtomic } from "../artifacts/atomic-write.js";
import { expertHeatmapSpec, expertHistSpec } from "./specs.js";
import { specToPng } from "./to-png.js";
import { transitionsSpec } from "./transitions-spec.js";

export const HIST_PNG = "expert_hist.png";
export const HEATMAP_PNG = "expert_heatmap.png";
export const TRANSITIONS_PNG = "layer_transitions.png";

export async function renderHistPng(summary: HistSummary, outPath: string): Promise<void> {
  await writeFileAtomic(outPath, await specToPng(expertHistSpec(summary)));
}

export async function renderHeatmapPng(summary: HistSummary, outPath: string): Promise<void> {
  await writeFileAtomic(outPath, await specToPng(expertHeatmapSpec(summary)));
}

/** The pictures as PNG bytes, with their file names (`hist` publishes them as one set with
 * summary.json); layer_transitions.png when two consecutive layers are analysed. */
export async function histPictureFiles(summary: HistSummary): Promise<{ name: string; data: Buffer }[]> {
  const files = [
    { name: HIST_PNG, data: await specToPng(expertHistSpec(summary)) },
    { name: HEATMAP_PNG, data: await specToPng(expertHeatmapSpec(summary)) },
  ];
  if (summary.layer_transitions !== null)
    files.push({ name: TRANSITIONS_PNG, data: await specToPng(transitionsSpec(summary, summary.layer_transitions)) });
  return files;
}

/** Writes the pictures into outDir (layer_transitions.png when two consecutive layers are analysed); returns their paths. */
export async function renderHistPictures(summary: HistSummary, outDir: string): Promise<string[]> {
  const hist = path.join(outDir, HIST_PNG);
  const heat = path.join(outDir, HEATMAP_PNG);
  await renderHistPng(summary, hist);
  await renderHeatmapPng(summary, heat);
  if (summary.layer_transitions === null) return [hist, heat];
  const trans = path.join(outDir, TRANSITIONS_PNG);
  await writeFileAtomic(trans, await specToPng(transitionsSpec(summary, summary.layer_transitions)));
  return [hist, heat, trans];
}
