// `moe-prof cache`: its options and help; the work is in index.ts, loaded when it runs.
import type { Command } from "commander";
import { CACHE_POLICIES } from "../../analysis/cache-sim.js";
import { DEFAULT_TARGETS } from "../../analysis/cache-report.js";

export function defineCache(program: Command): Command {
  return program
    .command("cache")
    .description("Simulate a per-layer expert cache (LRU, LFU, OPT, static) over a routes log: hit rate vs capacity.")
    .argument(
      "<routes.jsonl...>",
      'routes log written by `moe-prof run` (or any writer of the schema), JSONL (gzip/zstd too) or Parquet; several files, a directory or a quoted glob are read as one log (README "Many files as one log"); - reads standard input',
    )
    .option(
      "--order <order>",
      "access order: request (one request after another) or step (per engine step, distinct experts)",
      "request",
    )
    .option("--capacities <list>", "cache sizes in experts, e.g. 4,8,16 (default: 1..num_experts)")
    .option("--policies <list>", `some of ${CACHE_POLICIES.join(",")}`, CACHE_POLICIES.join(","))
    .option("--targets <list>", "hit rates to find the smallest capacity for", DEFAULT_TARGETS.join(","))
    .option("--out <dir>", "where to write cache.json and expert_cache.png (default: the log's directory)")
    .option("--layers <list>", "analyse only these logged layers, e.g. 0,5-7 (validation still covers all)")
    .option("--json", "print cache.json on stdout as one line of JSON, and nothing else")
    .option("--pretty", "with --json: indented, as the file is written")
    .option("--lenient", "skip bad lines (reported on stderr) instead of refusing the log")
    .addHelpText(
      "after",
      `
Each policy has its own cache of C experts per layer, starting empty. An access hits if the
expert is cached; a miss inserts it (evicting when full): lru evicts the least recently used,
lfu the fewest accesses so far (ties: least recent), opt (Belady) the one needed farthest ahead
(the bound for every policy that inserts each miss); static pins the C most-accessed experts.
  --order request  requests one after another (order of first row), each in token order,
                   every row's topk_ids (single-stream offloading)
  --order step     per engine step, the distinct experts it needs, ascending id (batched
                   serving; needs "step" on every row)
Writes (atomically) cache.json (hit rates per policy, capacity and layer; capacity_for each
target) and expert_cache.png. Definitions: APPENDIX.md "What-if analyses".
Exit codes: 0 ok, 1 invalid log (or no step for --order step), 2 usage error or unreadable file.

Examples:
  moe-prof cache out/moe_routes.jsonl
  moe-prof cache out/moe_routes.jsonl --order step --capacities 8,16,32 --json | jq .capacity_for`,
    );
}
