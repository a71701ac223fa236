// `moe-prof place`: its options and help; the work is in index.ts, loaded when it runs.
import type { Command } from "commander";
import { DEFAULT_GPUS, DEFAULT_SLACK } from "../../analysis/placement-report.js";

export function definePlace(program: Command): Command {
  return program
    .command("place")
    .description(
      "Plan expert-parallel placement from a routes log: GPU load imbalance and top-k locality per policy and GPU count.",
    )
    .argument(
      "<routes.jsonl...>",
      'routes log written by `moe-prof run` (or any writer of the schema), JSONL (gzip/zstd too) or Parquet; several files, a directory or a quoted glob are read as one log (README "Many files as one log"); - reads standard input',
    )
    .option("--gpus <list>", "GPU counts to plan for", DEFAULT_GPUS.join(","))
    .option(
      "--num-layers <N>",
      "the model's layer count, for the SGLang files (default: the meta line's num_layers, else the log's largest layer + 1)",
    )
    .option(
      "--eval <log>",
      "score the plans on this held-out log of the same model (default: in-sample, on the log they were made from)",
    )
    .option(
      "--redundant <R>",
      "redundant expert slots for the replicated plan (default per G: the fewest >= 1 that give every GPU as many slots)",
    )
    .option(
      "--slack <x>",
      "coact: how far above the mean a GPU's load may go (or up to balanced's busiest GPU)",
      String(DEFAULT_SLACK),
    )
    .option(
      "--out <dir>",
      "where to write placement.json, placement.png and the SGLang files (default: the log's directory)",
    )
    .option("--layers <list>", "analyse only these logged layers, e.g. 0,5-7 (validation still covers all)")
    .option("--json", "print placement.json on stdout as one line of JSON, and nothing else")
    .option("--pretty", "with --json: indented, as the file is written")
    .option("--lenient", "skip bad lines (reported on stderr) instead of refusing the log")
    .addHelpText(
      "after",
      `
Per layer, an expert's load is its count (token x top-k assignments); a GPU's load is the sum
over the experts (or replica shares) it holds. Policies:
  contiguous  vLLM without EPLB: equal contiguous ranges of expert ids
  balanced    experts by load, each onto the least-loaded GPU with a free slot
  replicated  DeepSeek EPLB: R redundant replicas to the highest load per replica, then packed
  coact       balanced, then swaps that keep co-activated experts on one GPU within --slack
The plans are scored on the log they were made from (in-sample, the default) or, with --eval,
on a held-out log of the same model (same top_k, num_experts, and the analysed layers logged).
Reported per policy and G: max/mean GPU load (mean over layers; per engine step too, when rows
carry "step") and top1_gpu_share, the share of a row's top-k assignments that run on the GPU of
its top-1 expert (the rest crosses GPUs in the all-to-all).
Writes (atomically) placement.json, placement.png and, per G where G divides E + R,
sglang_expert_location_g<G>.json: the replicated plan as SGLang's --init-expert-location reads it.
Definitions: APPENDIX.md "What-if analyses".
Exit codes: 0 ok, 1 invalid log, 2 usage error or unreadable file.

Examples:
  moe-prof place out/moe_routes.jsonl --gpus 2,4,8
  moe-prof place day1/moe_routes.jsonl --eval day2/moe_routes.jsonl --gpus 8
  moe-prof place out/moe_routes.jsonl --gpus 8 --redundant 8 --json | jq '.policies.replicated[0].max_over_mean'`,
    );
}
