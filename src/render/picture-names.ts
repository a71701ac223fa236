// The file names of hist's pictures, and which a summary has: no renderer is loaded for this.
import type { HistSummary } from "../analysis/summary.js";

export const HIST_PNG = "expert_hist.png";
export const HEATMAP_PNG = "expert_heatmap.png";
export const TRANSITIONS_PNG = "layer_transitions.png";

/** layer_transitions.png only with two consecutive analysed layers. */
export function histPictureNames(summary: HistSummary): string[] {
  return summary.layer_transitions === null ? [HIST_PNG, HEATMAP_PNG] : [HIST_PNG, HEATMAP_PNG, TRANSITIONS_PNG];
}
