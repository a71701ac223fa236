// What `moe-prof serve` leaves beside moe_routes.jsonl: hist's pictures and summary.json (of the
// first log pass's routes, as `run` writes them), serving.json and serving_latency.png.
import path from "node:path";
import type { HistSummary } from "../analysis/summary.js";
import { writeFileAtomic } from "./atomic-write.js";
import { SUMMARY_FILE } from "./summary-json.js";
import { toCompactJson } from "./compact-json.js";
import { SERVING_FILE, type ServingReport } from "../serving/serving-json.js";

/** serving.json alone: also written, marked incomplete, into an unfinished run's directory. */
export async function writeServingJson(dir: string, report: ServingReport): Promise<void> {
  await writeFileAtomic(path.join(dir, SERVING_FILE), toCompactJson(report));
}

export async function writeServeArtifacts(
  dir: string,
  summary: HistSummary,
  report: ServingReport,
  serve: Record<string, unknown>,
): Promise<string[]> {
  // Loaded here, not at start-up (vega, vega-lite and canvas: see run-artifacts.ts).
  const { histPictureFiles } = await import("../render/hist-pictures.js");
  const { specToPng } = await import("../render/to-png.js");
  const { servingLatencySpec, SERVING_PNG } = await import("../render/serving-spec.js");
  const pictures = [
    ...(await histPictureFiles(summary)),
    { name: SERVING_PNG, data: await specToPng(servingLatencySpec(report)) },
  ];
  await Promise.all(pictures.map((f) => writeFileAtomic(path.join(dir, f.name), f.data)));
  await writeFileAtomic(path.join(dir, SUMMARY_FILE), toCompactJson({ ...summary, serve }));
  await writeServingJson(dir, report);
  return [...pictures.map((f) => f.name), SUMMARY_FILE, SERVING_FILE];
}
