// `moe-prof validate <log>`: the log against the schema and the whole-file rules, on two threads
// for large logs; one line on success, FILE:LINE: field: what on failure (--json: one JSON line).
import { UserError, EXIT_INVALID } from "../../errors.js";
import { logName } from "../../routes/log-source.js";
import type { ValidationReport } from "../../log-scan/validate-file.js";
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
  const s = report.scan;
  const m = s.meta;
  return {
    schema: VALIDATE_SCHEMA,
    file: logName(file),
    valid: report.valid,
    rows: s.rows,
    requests: s.requests.length,
    lines: s.lines,
    layers_logged: m === null ? null : [...m.layers_logged],
    top_k: m?.top_k ?? null,
    num_experts: m?.num_experts ?? null,
    model_id: m?.model_id ?? null,
    problem_count: s.problemCount,
    errors: report.errors,
  };
}

/** `moe-prof validate`: what the command does once commander has parsed it (cli.ts). */
export async function validateCommand(
  file: string,
  opts: { allErrors?: boolean; json?: boolean; pretty?: boolean },
): Promise<void> {
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
  const m = s.meta!;
  const experts = m.num_experts === undefined ? "num_experts not declared" : `${m.num_experts} experts`;
  process.stdout.write(
    `${logName(file)}: valid: ${s.rows} rows, ${s.requests.length} request${s.requests.length === 1 ? "" : "s"}, ${m.layers_logged.length} layers, top_k ${m.top_k}, ${experts} (${m.model_id})\n`,
  );
}
