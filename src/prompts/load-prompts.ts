// Where a run's prompts come from: --prompts FILE, --dataset-url, or the bundled GSM8K split.
import path from "node:path";
import { bundledGsm8kPath, parseGsm8k, readGsm8k } from "./read-gsm8k.js";
import { readPromptsFile } from "./read-prompts-file.js";

export interface PromptSet {
  source: string;
  prompts: string[];
}

export async function loadPrompts(opts: {
  prompts?: string | undefined;
  datasetUrl?: string | undefined;
  numPrompts: number;
}): Promise<PromptSet> {
  if (opts.prompts)
    return { source: path.resolve(opts.prompts), prompts: readPromptsFile(opts.prompts, opts.numPrompts) };
  // Problems in a downloaded file are named by the URL and line (the text is never saved).
  if (opts.datasetUrl) {
    // undici only when a download is asked for: it is not loaded at start-up.
    const { downloadDataset } = await import("./download-dataset.js");
    const text = await downloadDataset(opts.datasetUrl);
    return { source: opts.datasetUrl, prompts: parseGsm8k(text, opts.datasetUrl, opts.numPrompts) };
  }
  return {
    source: "bundled GSM8K test split (fixtures/gsm8k)",
    prompts: readGsm8k(bundledGsm8kPath(), opts.numPrompts),
  };
}
