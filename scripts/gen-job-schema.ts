// Writes python/moe_prof/worker/job.schema.json from the job's zod schema (src/worker/job.ts),
// the one definition of what the CLI hands the worker. `--check`: exit 1 if the file is stale.
//   node dist/scripts/gen-job-schema.js [--check]
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { packageRoot } from "../src/config/package-info.js";
import { workerJobJsonSchema } from "../src/worker/job.js";

export const JOB_SCHEMA_FILE = path.join(packageRoot(), "python", "moe_prof", "worker", "job.schema.json");

export function jobSchemaText(): string {
  return JSON.stringify(workerJobJsonSchema(), null, 2) + "\n";
}

function main(): number {
  const want = jobSchemaText();
  if (process.argv.includes("--check")) {
    let have = "";
    try {
      have = readFileSync(JOB_SCHEMA_FILE, "utf8");
    } catch {
      /* missing: stale */
    }
    if (have !== want) {
      process.stderr.write(`${JOB_SCHEMA_FILE} is stale: run node dist/scripts/gen-job-schema.js\n`);
      return 1;
    }
    return 0;
  }
  writeFileSync(JOB_SCHEMA_FILE, want);
  process.stderr.write(`wrote ${JOB_SCHEMA_FILE}\n`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname))
  process.exitCode = main();
