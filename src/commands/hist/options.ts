// `moe-prof hist`: its options and help; the work is in index.ts, loaded when it runs.
import type { Command } from "commander";

export function defineHist(program: Command): Command {
  return program
    .command("hist")
    .description(
      "Validate a routes log and write expert_hist.png, expert_heatmap.png, layer_transitions.png and summary.json.",
    )
    .argument(
      "<routes.jsonl...>",
      'routes log written by `moe-prof run` (or any writer of the schema), JSONL (gzip/zstd too) or Parquet; several files, a directory or a quoted glob are read as one log (README "Many files as one log"); - reads standard input',
    )
    .option(
      "--out <dir>",
      "where to write the outputs (default: the log's directory; <dir>/hist when it holds `moe-prof run`'s results, which hist never replaces)",
    )
    .option("--layers <list>", "analyse only these layers, e.g. 0,5-7 (validation still covers all)")
    .option("--json", "print the summary on stdout (one line of JSON) and nothing else")
    .option("--pretty", "with --json: indented, as summary.json is written")
    .option("--lenient", "skip bad lines (reported on stderr, their share in the summary) instead of refusing the log")
    .option(
      "--request <req_id>",
      "one request's routes instead: a table on stdout (tokens x layers, experts by weight) and request_<req_id>.png",
    )
    .option(
      "--as-batches",
      "for logs of the original capture (one req_id, token_idx restarting each step): group rows into the batches they were written in; counts as written, no per-request figures",
    )
    .addHelpText(
      "after",
      `
Reads the log once (memory bounded whatever its size: README "Limits"), rejecting it like
\`moe-prof validate\` unless --lenient. Counts are token x slot assignments, all analysed
layers summed. Writes into --out, as one set:
  expert_hist.png     usage per expert, top experts highlighted, mean load marked
  expert_heatmap.png  layer x expert share of assignments
  layer_transitions.png  top-1 -> top-1 from each logged layer to the next logged one: mutual information
                      per layer pair vs chance, and the most dependent pair's matrix
  summary.json        counts, entropy, imbalance (max/mean, CV, Gini), dead experts,
                      co-activated pairs, top-1 repetition, phases, per-request rows,
                      layer_transitions
                      (metric definitions: APPENDIX.md "Metrics")
  hist-manifest.json  written last: each file's sha256, the log and options it came from
Logs over 32 MiB that declare num_experts are read on 2 threads (env MOE_PROF_THREADS=N
to change; results are identical).
Exit codes: 0 ok, 1 invalid log, 2 usage error or unreadable file.

Examples:
  moe-prof hist out/moe_routes.jsonl
  moe-prof hist out/moe_routes.jsonl --layers 0,12-23 --out figs
  moe-prof hist out/moe_routes.jsonl --json | jq .overall.normalized_entropy
  moe-prof hist out/moe_routes.jsonl --request 3 --layers 0-3`,
    );
}
