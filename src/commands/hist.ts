import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { humanSummary } from "../render/human-summary.js";
import { parseLayerList } from "../config/layer-list.js";
import { summaryJson, SUMMARY_FILE } from "../artifacts/summary-json.js";
import { MANIFEST_FILE, publishOutputSet, removeStaleStaging } from "../artifacts/output-set.js";
import { readPackageVersion } from "../config/package-info.js";
import { UserError, envError, EXIT_INVALID } from "../errors.js";
import { refuseSpecialOutDir } from "../config/out-dir-guard.js";


export function registerHist(program: Command): void {
  program
    .command("hist")
    .description("Validate a routes log and write expert_hist.png, expert_heatmap.png, layer_transitions.png and summary.json.")
    .argument("<routes.jsonl>", "routes log written by `moe-prof run` (or any writer of the schema)")
    .option("--out <dir>", "where to write the outputs (default: the log's directory)")
    .option("--layers <list>", "analyse only these layers, e.g. 0,5-7 (validation still covers all)")
    .option("--json", "print the summary on stdout (one line of JSON) and nothing else")
    .option("--pretty", "with --json: indented, as summary.json is written")
    .option("--lenient", "skip bad lines (reported on stderr, their share in the summary) instead of refusing the log")
    .option("--as-batches", "for logs of the original capture (one req_id, token_idx restarting each step): group rows into the batches they were written in; counts as written, no per-request figures")
    .addHelpText(
      "after",
      `
Reads the log once (memory bounded whatever its size: README "Limits"), rejecting it like
\`moe-prof validate\` unless --lenient. Counts are token x slot assignments, all analysed
layers summed. Writes into --out, as one set:
  expert_hist.png     usage per expert, top experts highlighted, mean load marked
  expert_heatmap.png  layer x expert share of assignments
  layer_transitions.png  top-1 -> top-1 between consecutive layers: mutual information
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
  moe-prof hist out/moe_routes.jsonl --json | jq .overall.normalized_entropy`,
    )
    .action(async (file: string, opts: { out?: string; layers?: string; json?: boolean; pretty?: boolean; lenient?: boolean; asBatches?: boolean }) => {
      const layers = opts.layers === undefined ? undefined : parseLayerList(opts.layers);
      const outDir = opts.out ?? path.dirname(path.resolve(file));
      refuseSpecialOutDir(outDir);
      // The drawing process starts now: it loads vega and canvas while the log is scanned.
      const { PicturePool } = await import("../render/picture-pool.js");
      const pool = PicturePool.start();
      try {
      const { startRangeWorker } = await import("../log-scan/range-worker-start.js");
      // Batches follow the order of the whole file (never split): no early worker for them.
      const worker = opts.lenient || opts.asBatches ? null : startRangeWorker(file);
      const { analyseRoutesFile, lenientNote } = await import("../log-scan/analyse-routes.js");
      const { summary, skipped, skippedCount } = await analyseRoutesFile(file, { layers, lenient: opts.lenient, asBatches: opts.asBatches, worker });
      // The --lenient count is printed here once; summary.notes carries it too (for summary.json).
      const lenientLine = skippedCount > 0 ? lenientNote(skippedCount, summary.skipped_lines, summary.rows) : null;
      if (lenientLine !== null) {
        for (const line of skipped.slice(0, 5)) process.stderr.write(`skipped ${line}\n`);
        process.stderr.write(`${lenientLine}\n`);
      }
      if (summary.rows === 0) throw new UserError(`${file}: no route rows to analyse`, EXIT_INVALID);
      try {
        await mkdir(outDir, { recursive: true });
      } catch (e) {
        throw envError(`--out ${outDir}: cannot create: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      }
      let written: string[];
      try {
        await removeStaleStaging(outDir);
        const files = [...(await pool.render(summary)), { name: SUMMARY_FILE, data: summaryJson(summary) }];
        written = await publishOutputSet(outDir, files, {
          moe_prof_version: readPackageVersion(),
          source: { file: path.resolve(file), bytes: summary.source.bytes },
          options: { layers: opts.layers ?? null, lenient: opts.lenient === true, as_batches: opts.asBatches === true },
        });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code && /^E[A-Z]+$/.test(code)) throw envError(`--out ${outDir}: cannot write: ${code} (no complete output set there: ${MANIFEST_FILE} is missing or names the previous one)`);
        throw e;
      }
      // --json is one line (a 4-request log's summary was 118 KB indented); --pretty indents it.
      if (opts.json) process.stdout.write(opts.pretty ? summaryJson(summary) : JSON.stringify(summary) + "\n");
      else {
        for (const n of summary.notes) if (n !== lenientLine) process.stderr.write(`note: ${n}\n`);
        process.stdout.write(humanSummary(summary) + `wrote ${written.join(", ")}\n`);
      }
      } finally {
        pool.close();
      }
    });
}
