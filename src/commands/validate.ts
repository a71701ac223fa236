import type { Command } from "commander";
import { UserError, EXIT_INVALID } from "../errors.js";

export function registerValidate(program: Command): void {
  program
    .command("validate")
    .description("Check a routes log (moe_routes.jsonl) against the log schema and whole-file rules.")
    .argument("<routes.jsonl>", "routes log written by `moe-prof run` (or any writer of the schema)")
    .option("--all-errors", "keep going after the first error: list the first 50 and count the rest")
    .addHelpText(
      "after",
      `
Checks: line 1 is the meta line and the only one; every other line is a route row with
req_id, token_idx, layer (one of layers_logged), top_k distinct topk_ids (< num_experts when
given) and top_k topk_weights in [0,1]; no duplicate (req_id, token_idx, layer); every layer
holds the same (req_id, token_idx) rows; at least one route row; no truncated last line,
invalid UTF-8, NaN/Infinity, or absurdly long line; within the limits of README "Limits"
(refused in one line). Unknown keys are allowed; a UTF-8 byte-order mark is skipped.

Output: on success one line on stdout (rows, requests, layers, top_k). On failure
FILE:LINE: field: what is wrong on stderr.
Exit codes: 0 valid, 1 invalid log, 2 usage error or unreadable file.

Example:
  moe-prof validate out/moe_routes.jsonl --all-errors`,
    )
    .action(async (file: string, opts: { allErrors?: boolean }) => {
      // The second thread of a large log starts before this thread loads the scan: both load at once.
      const { startRangeWorker } = await import("../log-scan/range-worker-start.js");
      const worker = startRangeWorker(file);
      const { validateRoutesFile } = await import("../log-scan/validate-file.js");
      const report = await validateRoutesFile(file, { allErrors: opts.allErrors, worker });
      const s = report.scan;
      if (!report.valid) {
        if (!opts.allErrors) throw new UserError(report.errors[0]!, EXIT_INVALID);
        for (const e of report.errors) process.stderr.write(`${e}\n`);
        const more = s.problemCount - report.errors.length;
        if (more > 0) process.stderr.write(`... and ${more} more errors\n`);
        throw new UserError(`${file}: invalid: ${s.problemCount} error${s.problemCount === 1 ? "" : "s"} in ${s.lines} lines`, EXIT_INVALID);
      }
      const m = s.meta!;
      const experts = m.num_experts === undefined ? "num_experts not declared" : `${m.num_experts} experts`;
      process.stdout.write(
        `${file}: valid: ${s.rows} rows, ${s.requests.length} requests, ${m.layers_logged.length} layers, top_k ${m.top_k}, ${experts} (${m.model_id})\n`,
      );
    });
}
