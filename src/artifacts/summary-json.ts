import type { HistSummary } from "../analysis/summary.js";
import { toCompactJson } from "./compact-json.js";

export const SUMMARY_FILE = "summary.json";

export function summaryJson(summary: HistSummary): string {
  return toCompactJson(summary);
}
