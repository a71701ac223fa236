import path from "node:path";
import { writeFileAtomic } from "./atomic-write.js";
import type { HistSummary } from "../analysis/summary.js";
import { toCompactJson } from "./compact-json.js";

export const SUMMARY_FILE = "summary.json";

export function summaryJson(summary: HistSummary): string {
  return toCompactJson(summary);
}

export async function writeSummaryJson(outDir: string, summary: HistSummary): Promise<string> {
  const file = path.join(outDir, SUMMARY_FILE);
  await writeFileAtomic(file, summaryJson(summary));
  return file;
}
