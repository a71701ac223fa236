// `moe-prof validate`: its options and help; the work is in index.ts, loaded when it runs.
import type { Command } from "commander";

export function defineValidate(program: Command): Command {
  return program
    .command("validate")
    .description("Check a routes log (moe_routes.jsonl) against the log schema and whole-file rules.")
    .argument(
      "<routes.jsonl...>",
      'routes log written by `moe-prof run` (or any writer of the schema), JSONL (gzip/zstd too) or Parquet; several files, a directory or a quoted glob are read as one log (README "Many files as one log"); - reads standard input',
    )
    .option("--all-errors", "keep going after the first error: list the first 50 and count the rest")
    .option("--json", "print the verdict on stdout as one line of JSON (valid or not), and nothing else")
    .option("--pretty", "with --json: indented")
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
FILE:LINE: field: what is wrong on stderr. With --json, either way one line on stdout:
{"schema":"moe-prof.validate/1","file","valid","rows","requests","lines","layers_logged",
"top_k","num_experts","model_id","problem_count","errors"} (README "JSON output").
Exit codes: 0 valid, 1 invalid log, 2 usage error or unreadable file.

Example:
  moe-prof validate out/moe_routes.jsonl --all-errors`,
    );
}
