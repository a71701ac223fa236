// `moe-prof validate` of several files (README "Many files as one log"): each file checked whole,
// at once on the lanes of log-scan/file-lanes.ts, and reported under its own name; then whether
// the files agree on the model (they are read as one log by the other commands). Exit 1 when any
// file is invalid or they disagree.
import { UserError, EXIT_INVALID } from "../../errors.js";
import { logName } from "../../routes/log-source.js";
import type { LogSet } from "../../routes/log-set.js";
import { metaDisagreement } from "../../routes/meta-agreement.js";
import { runFileJobs } from "../../log-scan/file-lanes.js";
import { threadCount } from "../../log-scan/range-worker-start.js";
import type { FileScan } from "../../log-scan/file-part.js";
import { jsonOutput } from "../command-output.js";
import { verdictJson, validLine, type ValidateJson } from "./index.js";

export const VALIDATE_SET_SCHEMA = "moe-prof.validate-set/1";

/** One file's verdict: what `validate --json` gives for one log, with the file's label. */
export type FileVerdict = ValidateJson & { label: string };

/** What `validate --json` prints for several files. */
export interface ValidateSetJson {
  schema: string;
  name: string;
  /** Every file valid and all agreeing on the model. */
  valid: boolean;
  files: FileVerdict[];
  /** Problems between files (the model they disagree on), worded FILE: meta: FIELD: ... */
  set_problems: string[];
  rows: number;
  requests: number;
}

function verdict(scan: FileScan, label: string): FileVerdict {
  const valid = scan.problemCount === 0;
  return { ...verdictJson(scan.file, scan, scan.requestCount, valid, scan.messages), label };
}

export async function validateSet(
  set: LogSet,
  opts: { allErrors?: boolean; threads?: number },
): Promise<ValidateSetJson> {
  const files: FileVerdict[] = [];
  const scans: FileScan[] = [];
  await runFileJobs(
    set.files.map((f) => ({ kind: "validate" as const, file: f.path, allErrors: opts.allErrors })),
    threadCount(opts),
    (fi, p) => {
      // An unreadable file (exit 2) stops the whole command, as it does for one log.
      if (!p.ok) throw new UserError(p.message, p.exitCode);
      scans.push(p.scan);
      files.push(verdict(p.scan, set.files[fi]!.label));
    },
  );
  const setProblems: string[] = [];
  const first = scans.find((s) => s.meta !== null);
  for (const s of scans) {
    if (first === undefined || s === first || s.meta === null) continue;
    const problem = metaDisagreement(logName(first.file), first.meta!, logName(s.file), s.meta);
    if (problem !== null) setProblems.push(problem);
  }
  return {
    schema: VALIDATE_SET_SCHEMA,
    name: set.name,
    valid: files.every((f) => f.valid) && setProblems.length === 0,
    files,
    set_problems: setProblems,
    rows: files.reduce((a, f) => a + f.rows, 0),
    requests: files.reduce((a, f) => a + f.requests, 0),
  };
}

/** The human report: a line per valid file, each invalid file's errors under its name, a total. */
export function printSetReport(r: ValidateSetJson, allErrors: boolean | undefined): void {
  for (const f of r.files) {
    if (f.valid) {
      process.stdout.write(validLine(f));
      continue;
    }
    for (const e of f.errors) process.stderr.write(`${e}\n`);
    const more = f.problem_count - f.errors.length;
    if (more > 0) process.stderr.write(`... and ${more} more errors\n`);
    if (allErrors)
      process.stderr.write(
        `${f.file}: invalid: ${f.problem_count} error${f.problem_count === 1 ? "" : "s"} in ${f.lines} lines\n`,
      );
  }
  for (const p of r.set_problems) process.stderr.write(`${p}\n`);
  const bad = r.files.filter((f) => !f.valid).length;
  const summary = `${r.name}: ${r.files.length - bad} of ${r.files.length} files valid${r.set_problems.length ? `, ${r.set_problems.length} disagreeing on the model` : ""}; ${r.rows} rows, ${r.requests} requests in all (as one log, req_ids become <label>/<req_id>)`;
  if (!r.valid) throw new UserError(summary, EXIT_INVALID);
  process.stdout.write(`${summary}\n`);
}

export function printSetJson(r: ValidateSetJson, pretty: boolean | undefined): void {
  process.stdout.write(jsonOutput(r, pretty));
  if (!r.valid) process.exitCode = EXIT_INVALID;
}
