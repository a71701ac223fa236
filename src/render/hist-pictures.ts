// The pictures `hist` writes, as functions of a summary (also what `run` calls).
import path from "node:path";
import type { TopLevelSpec } from "vega-lite";
import type { HistSummary } from "../analysis/summary.js";
import { writeFileAtomic } from "../artifacts/atomic-write.js";
import { expertHeatmapSpec, expertHistSpec } from "./specs.js";
import { specToPng } from "./to-png.js";
import { transitionsSpec } from "./transitions-spec.js";
import { HIST_PNG, HEATMAP_PNG, TRANSITIONS_PNG } from "./picture-names.js";

export { HIST_PNG, HEATMAP_PNG, TRANSITIONS_PNG };

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

/** PNG bytes of the named pictures of a summary (all of them by default). */
export async function renderHistPngs(summary: HistSummary, names?: readonly string[]): Promise<{ name: string; data: Buffer }[]> {
  const out: { name: string; data: Buffer }[] = [];
  for (const p of histPictureSpecs(summary)) if (!names || names.includes(p.name)) out.push({ name: p.name, data: await specToPng(p.spec()) });
  return out;
}

export async function renderHistPng(summary: HistSummary, outPath: string): Promise<void> {
  await writeFileAtomic(outPath, await specToPng(expertHistSpec(summary)));
}

export async function renderHeatmapPng(summary: HistSummary, outPath: string): Promise<void> {
  await writeFileAtomic(outPath, await specToPng(expertHeatmapSpec(summary)));
}

/** Writes the pictures into outDir (layer_transitions.png when two consecutive layers are analysed); returns their paths. */
export async function renderHistPictures(summary: HistSummary, outDir: string): Promise<string[]> {
  const files: string[] = [];
  for (const { name, data } of await renderHistPngs(summary)) {
    const file = path.join(outDir, name);
    await writeFileAtomic(file, data);
    files.push(file);
  }
  return files;
}
