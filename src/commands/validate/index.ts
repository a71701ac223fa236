// `moe-prof validate <log>`: the log against the schema and the whole-file rules, on two threads
// for large logs; one line on success, FILE:LINE: field: what on failure.
import { UserError, EXIT_INVALID } from "../../errors.js";
import { logName } from "../../routes/log-source.js";

/** `moe-prof validate`: what the command does once commander has parsed it (cli.ts). */
export async function validateCommand(file: string, opts: { allErrors?: boolean }): Promise<void> {
  // The second thread of a large log starts before this thread loads the scan: both load at once.
  const { startRangeWorker } = await import("../../log-scan/range-worker-start.js");
  const worker = startRangeWorker(file);
  const { validateRoutesFile } = await import("../../log-scan/validate-file.js");
  const report = await validateRoutesFile(file, { allErrors: opts.allErrors, worker });
  const s = report.scan;
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
    `${logName(file)}: valid: ${s.rows} rows, ${s.requests.length} requests, ${m.layers_logged.length} layers, top_k ${m.top_k}, ${experts} (${m.model_id})\n`,
  );
}
