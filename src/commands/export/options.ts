// `moe-prof export`: its options and help; the work is in index.ts, loaded when it runs.
import type { Command } from "commander";
import { EXPORT_FORMATS } from "../../export/registry.js";

export function defineExport(program: Command): Command {
  const names = EXPORT_FORMATS.map((f) => f.name);
  return program
    .command("export")
    .description(
      "Write a routes log in the formats other tools read: eplb (per-layer counts .npy), r3 (per-request routed experts .npz), parquet (every row).",
    )
    .argument(
      "<routes.jsonl...>",
      'routes log written by `moe-prof run` (or any writer of the schema), JSONL (gzip/zstd too) or Parquet; several files, a directory or a quoted glob are read as one log (README "Many files as one log"); - reads standard input',
    )
    .requiredOption("--format <name>", `one of ${names.join(", ")}`)
    .option("--out <dir>", "where to write (default: the log's directory); parquet: also a FILE.parquet")
    .option("--compression <codec>", "parquet: page compression, zstd (default), gzip or none")
    .option("--layers <list>", "analyse only these logged layers, e.g. 0,5-7 (validation still covers all)")
    .option("--json", "print the manifest (export_<format>.json) on stdout as one line of JSON, and nothing else")
    .option("--pretty", "with --json: indented, as the file is written")
    .option("--lenient", "skip bad lines (reported on stderr) instead of refusing the log")
    .addHelpText(
      "after",
      `
Formats:
${EXPORT_FORMATS.map((f) => `  ${f.name.padEnd(6)} ${f.description}`).join("\n")}
Each also writes export_<format>.json: the files, their dtype and shape, the layer order.
Shapes and dtypes: APPENDIX.md "What-if analyses" (export). Read them with numpy:
  np.load("expert_counts.npy")                          # [layers, experts] int64
  z = np.load("routed_experts.npz"); z["0/routed_experts"]  # [tokens, layers, top_k] int16
  duckdb -c "select layer, unnest(topk_ids) e, count(*) from 'moe_routes.parquet' group by all"
Exit codes: 0 ok, 1 invalid log (or one the format cannot hold), 2 usage error or unreadable file.

Examples:
  moe-prof export out/moe_routes.jsonl --format eplb
  moe-prof export out/moe_routes.jsonl --format r3 --out r3/
  moe-prof export out/moe_routes.jsonl --format parquet --out routes.parquet`,
    );
}
