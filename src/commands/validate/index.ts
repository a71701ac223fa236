// `moe-prof validate <log>`: the log against the schema and the whole-file rules, on two threads
// for large logs; one line on success, FILE:LINE: field: what on failure (--json: one JSON line).
import { UserError, EXIT_INVALID } from "../../errors.js";
import { logName } from "../../routes/log-source.js";
import { logSetOf } from "../../routes/log-set.js";
import type { ValidationReport } from "../../log-scan/validate-file.js";
import type { ScanResult } from "../../routes/scan.js";
import { jsonOutput } from "../command-output.js";

export const VALIDATE_SCHEMA = "moe-prof.validate/1";

/** What `validate --json` prints (README "JSON output"): the verdict, valid or not. */
export interface ValidateJson {
  schema: string;
  file: string;
  valid: boolean;
  /** Route rows accepted (all of them when valid). */
  rows: number;
  requests: number;
  lines: number;
  /** From the meta line; null when it was not accepted. */
  layers_logged: number[] | null;
  top_k: number | null;
  num_experts: number | null;
  model_id: string | null;
  problem_count: number;
  /** The first problems (all with --all-errors, up to 50), `FILE:LINE: field: what`. */
  errors: string[];
}

export function validateJson(file: string, report: ValidationReport): ValidateJson {
  return verdictJson(file, report.scan, report.scan.requests.length, report.valid, report.errors);
}

/** The verdict from a scan's counts (for one log, or each file of several: validate/set.ts). */
export function verdictJson(
  file: string,
  s: Pick<ScanResult, "meta" | "rows" | "lines" | "problemCount">,
  requests: number,
  valid: boolean,
  errors: string[],
): ValidateJson {
  const m = s.meta;
  return {
    schema: VALIDATE_SCHEMA,
    file: logName(file),
    valid,
    rows: s.rows,
    requests,
    lines: s.lines,
    layers_logged: m === null ? null : [...m.layers_logged],
    top_k: m?.top_k ?? null,
    num_experts: m?.num_experts ?? null,
    model_id: m?.model_id ?? null,
    problem_count: s.problemCount,
    errors,
  };
}

/** The line `validate` prints for a valid log. */
export function validLine(v: ValidateJson): string {
  const experts = v.num_experts === null ? "num_experts not declared" : `${v.num_experts} experts`;
  return `${v.file}: valid: ${v.rows} rows, ${v.requests} request${v.requests === 1 ? "" : "s"}, ${v.layers_logged!.length} layers, top_k ${v.top_k}, ${experts} (${v.model_id})\n`;
}

/** `moe-prof validate`: what the command does once commander has parsed it (cli.ts). */
export async function validateCommand(
  files: string[],
  opts: { allErrors?: boolean; json?: boolean; pretty?: boolean },
): Promise<void> {
  const set = logSetOf(files);
  if (set.files.length > 1) {
    const { validateSet, printSetJson, printSetReport } = await import("./set.js");
    const report = await validateSet(set, { allErrors: opts.allErrors });
    return opts.json ? printSetJson(report, opts.pretty) : printSetReport(report, opts.allErrors);
  }
  const file = set.files[0]!.path;
  // The second thread of a large log starts before this thread loads the scan: both load at once.
  const { startRangeWorker } = await import("../../log-scan/range-worker-start.js");
  const worker = startRangeWorker(file);
  const { validateRoutesFile } = await import("../../log-scan/validate-file.js");
  const report = await validateRoutesFile(file, { allErrors: opts.allErrors, worker });
  const s = report.scan;
  if (opts.json) {
    // The verdict is the output: an invalid log is said on stdout too, and by the exit code.
    process.stdout.write(jsonOutput(validateJson(file, report), opts.pretty));
    if (!report.valid) process.exitCode = EXIT_INVALID;
    return;
  }
  if (!report.valid) {
    if (!opts.allErrors) throw new UserError(report.errors[0]!, EXIT_INVALID);
    for (const e of report.errors) process.stderr.write(`${e}\n`);
    const more = s.problemCount - report.errors.length;
    if (more > 0) process.stderr.write(`... and ${more} more errors\n`);
    throw new UserError(
      `${logName(file)}: invalid: ${s.problemCount} error${s.problemCount === 1 ? "" : "s"} in ${s.lines} lines`,
      EXIT_INVALID,
    );
  }
  process.stdout.write(validLine(validateJson(file, report)));
}
