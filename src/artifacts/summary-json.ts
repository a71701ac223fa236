import type { HistSummary } from "../analysis/summary.js";

export const SUMMARY_FILE = "summary.json";

export function summaryJson(summary: HistSummary): string {
  return JSON.stringify(summary, null, 2) + "\n";
}
