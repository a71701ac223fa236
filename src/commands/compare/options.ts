// `moe-prof compare`: its options and help; the work is in index.ts, loaded when it runs.
import type { Command } from "commander";

export function defineCompare(program: Command): Command {
  return program
    .command("compare")
    .description(
      "Compare the routing of two logs: per-layer distribution distance, experts that moved, and row-by-row agreement.",
    )
    .argument(
      "<a>",
      "first routes log (gzip/zstd or Parquet too; a directory or quoted glob: its files as one log; - for standard input)",
    )
    .argument("<b>", "second routes log (same prompts, or different ones; the same forms as <a>)")
    .option("--out <dir>", "where to write compare.json and compare.png (default: the first log's directory)")
    .option("--layers <list>", "analyse only these logged layers, e.g. 0,5-7 (validation still covers all)")
    .option("--json", "print compare.json on stdout as one line of JSON, and nothing else")
    .option("--pretty", "with --json: indented, as the file is written")
    .option("--lenient", "skip bad lines (reported on stderr) instead of refusing a log")
    .addHelpText(
      "after",
      `
Always: per layer logged in both, the Jensen-Shannon divergence (bits) and distance between the
two logs' expert shares, and the experts whose share moved most. When rows match on (req_id,
token_idx, layer): top-1 agreement, mean top-k overlap (|A and B| / k), and per request the first
token (and layer) whose top-k set differs and the first token whose token_id differs.
Definitions: APPENDIX.md "What-if analyses".
Exit codes: 0 ok, 1 invalid log (or no layer in common), 2 usage error or unreadable file.

Examples:
  moe-prof compare vllm/moe_routes.jsonl hf/moe_routes.jsonl --out cmp/
  moe-prof compare seed1.jsonl seed2.jsonl --json | jq .aligned.top1_agreement`,
    );
}
