// Where a run's prompts come from: --prompts FILE, --dataset-url, or the bundled GSM8K split.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { bundledGsm8kPath, readGsm8k } from "./read-gsm8k.js";
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
  if (opts.prompts) return { source: path.resolve(opts.prompts), prompts: readPromptsFile(opts.prompts, opts.numPrompts) };
  if (opts.datasetUrl) {
    const tmp = mkdtempSync(path.join(os.tmpdir(), "moe-prof-dataset-"));
    try {
      const dest = path.join(tmp, "dataset.jsonl");
      // undici only when a download is asked for: it is not loaded at start-up.
      const { downloadDataset } = await import("./download-dataset.js");
      await downloadDataset(opts.datasetUrl, dest);
      return { source: opts.datasetUrl, prompts: readGsm8k(dest, opts.numPrompts) };
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return { source: "bundled GSM8K test split (fixtures/gsm8k)", prompts: readGsm8k(bundledGsm8kPath(), opts.numPrompts) };
}
