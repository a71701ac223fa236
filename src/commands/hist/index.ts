// `moe-prof hist <log>`: validate and analyse a routes log in one read, draw its pictures (in a
// child process started first), and publish them with summary.json as one output set.
import path from "node:path";
import { humanSummary } from "../../render/human-summary.js";
import { parseLayerList } from "../../config/layer-list.js";
import { summaryJson, SUMMARY_FILE } from "../../artifacts/summary-json.js";
import { MANIFEST_FILE, publishOutputSet, removeStaleStaging } from "../../artifacts/output-set.js";
import { readPackageVersion } from "../../config/package-info.js";
import { UserError, envError, fsProblem, EXIT_INVALID } from "../../errors.js";
import { makeOutDir } from "../command-output.js";
import { refuseSpecialOutDir } from "../../config/out-dir-guard.js";
import { holdsRunResults } from "../../artifacts/run-artifacts.js";

/** Where hist writes: --out, else the log's folder; but never over `moe-prof run`'s results
 * (summary.json's `run` section would be lost): a log in a run's folder gets `<folder>/hist/`,
 * and an --out naming a run's folder is refused. */
function histOutDir(file: string, out: string | undefined): string {
  if (out !== undefined) {
    if (holdsRunResults(out))
      throw envError(
        `--out ${out}: holds \`moe-prof run\`'s results (summary.json with its run section), which hist would replace: choose another --out`,
      );
    return out;
  }
  const logDir = path.dirname(path.resolve(file));
  if (!holdsRunResults(logDir)) return logDir;
  const dir = path.join(logDir, "hist");
  process.stderr.write(`note: ${logDir} holds \`moe-prof run\`'s results, kept as they are: writing into ${dir}\n`);
  return dir;
}
import { STDIN, logName } from "../../routes/log-source.js";
import { logSetOf, outAnchor, setWhere } from "../../routes/log-set.js";
import { scanProgress } from "../scan-progress.js";

/** `moe-prof hist`: what the command does once commander has parsed it (cli.ts). */
export async function histCommand(
  files: string[],
  opts: {
    out?: string;
    layers?: string;
    json?: boolean;
    pretty?: boolean;
    lenient?: boolean;
    asBatches?: boolean;
    request?: string;
  },
): Promise<void> {
  const set = logSetOf(files);
  const many = set.files.length > 1;
  if (opts.request !== undefined) {
    if (opts.asBatches) throw envError("--request: not with --as-batches (batches have no requests)");
    const { requestCommand } = await import("./request.js");
    return requestCommand(set, { ...opts, request: opts.request });
  }
  if (many && opts.asBatches)
    throw envError("--as-batches: one log at a time (batches follow the order of one file), not several files");
  const file = setWhere(set);
  const layers = opts.layers === undefined ? undefined : parseLayerList(opts.layers);
  const outDir = histOutDir(outAnchor(set), opts.out);
  refuseSpecialOutDir(outDir);
  // The drawing process starts now: it loads vega and canvas while the log is scanned.
  const { PicturePool } = await import("../../render/picture-pool.js");
  const pool = PicturePool.start();
  try {
    const { startRangeWorker } = await import("../../log-scan/range-worker-start.js");
    // Batches follow the order of the whole file (never split): no early worker for them.
    const worker = opts.lenient || opts.asBatches || many ? null : startRangeWorker(file);
    const { analyseRoutesFile, lenientNote } = await import("../../log-scan/analyse-routes.js");
    const progress = many ? null : scanProgress(`reading ${logName(file)}`);
    const { summary, skipped, skippedCount } = await (
      many
        ? (await import("../../log-scan/analyse-set.js")).analyseRouteSet(set, { layers, lenient: opts.lenient })
        : analyseRoutesFile(file, {
            layers,
            lenient: opts.lenient,
            asBatches: opts.asBatches,
            worker,
            onProgress: progress ? (d, t) => progress.update(d, t) : undefined,
          })
    ).finally(() => progress?.end());
    // The --lenient count is printed here once; summary.notes carries it too (for summary.json).
    const lenientLine = skippedCount > 0 ? lenientNote(skippedCount, summary.skipped_lines, summary.rows) : null;
    if (lenientLine !== null) {
      for (const line of skipped.slice(0, 5)) process.stderr.write(`skipped ${line}\n`);
      process.stderr.write(`${lenientLine}\n`);
    }
    if (summary.rows === 0) throw new UserError(`${logName(file)}: no route rows to analyse`, EXIT_INVALID);
    await makeOutDir(outDir);
    let written: string[];
    try {
      await removeStaleStaging(outDir);
      const files = [...(await pool.render(summary)), { name: SUMMARY_FILE, data: summaryJson(summary) }];
      written = await publishOutputSet(outDir, files, {
        moe_prof_version: readPackageVersion(),
        source: many
          ? { file: set.dir, bytes: summary.source.bytes, files: set.files.map((f) => path.resolve(f.path)) }
          : { file: file === STDIN ? logName(file) : path.resolve(file), bytes: summary.source.bytes },
        options: { layers: opts.layers ?? null, lenient: opts.lenient === true, as_batches: opts.asBatches === true },
      });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code && /^E[A-Z]+$/.test(code))
        throw envError(
          `--out ${outDir}: cannot write: ${fsProblem(e)} (no complete output set there: ${MANIFEST_FILE} is missing or names the previous one)`,
        );
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
}
