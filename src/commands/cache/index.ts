// `moe-prof cache <log>`: how many expert hits would a per-layer cache of C experts give?
// Reads the log once (validating it) into per-layer spill files, then simulates each layer.
import path from "node:path";
import { scanProgress } from "../scan-progress.js";
import { logName } from "../../routes/log-source.js";
import { reportSkipped, sourceOf } from "../../routes/read-log.js";
import { readRoutesLogSet } from "../../routes/read-log-set.js";
import { logSetOf, outAnchor, setWhere, type LogInput, type LogSet } from "../../routes/log-set.js";
import { finishedSpill, RowSpill, MAX_PARTITIONS } from "../../routes/row-spill.js";
import type { RoutesMeta } from "../../routes/schema.js";
import { CACHE_POLICIES, type CachePolicy } from "../../analysis/cache-sim.js";
import type { AccessOrder, LayerRows } from "../../analysis/access-order.js";
import { simulateLayers } from "./layer-pool.js";
import {
  buildCacheReport,
  DEFAULT_TARGETS,
  type CacheReport,
  type LayerSimulation,
} from "../../analysis/cache-report.js";
import { parseIntList, parseFractionList, parseNameList } from "../../config/number-list.js";
import { prepareOutDir, writeOutputs, toJson, jsonOutput, readOptions } from "../command-output.js";
import { UserError, envError, EXIT_INVALID } from "../../errors.js";

export const CACHE_JSON = "cache.json";
export const CACHE_PNG = "expert_cache.png";

interface CacheOptions {
  /** --layers 0,5-7: analyse only these (validation still covers all). */
  layers?: string;
  order?: string;
  capacities?: string;
  policies?: string;
  targets?: string;
  out?: string;
  json?: boolean;
  pretty?: boolean;
  lenient?: boolean;
}

function parseOrder(text: string | undefined): AccessOrder {
  if (text === undefined || text === "request" || text === "step") return text ?? "request";
  throw envError(`--order: unknown "${text}" (expected request or step)`);
}

/** The whole analysis, without writing anything (tests call it directly). */
export async function runCache(input: LogInput, opts: CacheOptions): Promise<CacheReport> {
  const set = logSetOf(input);
  const file = setWhere(set);
  const order = parseOrder(opts.order);
  const policies = parseNameList("--policies", opts.policies ?? CACHE_POLICIES.join(","), CACHE_POLICIES);
  const targets = parseFractionList("--targets", opts.targets ?? DEFAULT_TARGETS.join(","));
  const wanted = opts.capacities === undefined ? null : parseIntList("--capacities", opts.capacities, 1);

  // Spill record: f64 [token_idx, step or -1], i32 [request index, topk_ids...].
  let spill: RowSpill | null = null;
  let k = 0;
  const f64 = new Float64Array(2);
  let i32 = new Int32Array(1);
  let noStep: { req_id: string; token_idx: number; layer: number } | null = null;
  try {
    const progress = scanProgress(`reading ${logName(file)}`);
    const read = await readRoutesLogSet(set, readOptions(opts, progress), {
      onMeta(meta: RoutesMeta) {
        if (meta.layers_logged.length > MAX_PARTITIONS)
          throw envError(
            `${file}: ${meta.layers_logged.length} layers logged; cache handles at most ${MAX_PARTITIONS}`,
          );
        k = meta.top_k;
        i32 = new Int32Array(1 + k);
        spill = new RowSpill(meta.layers_logged.length, { f64: 2, i32: 1 + k });
      },
      onRow(row, req, li) {
        f64[0] = row.token_idx;
        f64[1] = row.step ?? -1;
        if (row.step === undefined && noStep === null)
          noStep = { req_id: row.req_id, token_idx: row.token_idx, layer: row.layer };
        i32[0] = req;
        for (let j = 0; j < k; j++) i32[1 + j] = row.topk_ids[j]!;
        spill!.append(li, f64, i32);
      },
    }).finally(() => progress?.end());
    const s = finishedSpill(spill, file);
    reportSkipped(read, (t) => process.stderr.write(t));
    const miss = noStep as { req_id: string; token_idx: number; layer: number } | null;
    if (order === "step" && miss !== null) {
      throw new UserError(
        `${file}: step: missing on the row req_id ${JSON.stringify(miss.req_id)}, token_idx ${miss.token_idx}, layer ${miss.layer} (--order step groups rows by engine step; use --order request for this log)`,
        EXIT_INVALID,
      );
    }
    const E = read.numExperts;
    const capacities = wanted ?? Array.from({ length: E }, (_, i) => i + 1);
    const over = capacities.filter((c) => c > E);
    if (over.length)
      throw envError(
        `--capacities: ${over.join(",")} ${over.length === 1 ? "exceeds" : "exceed"} the ${E} experts of ${path.basename(file)}`,
      );

    const { threadCount } = await import("../../log-scan/range-worker-start.js");
    const logged = read.meta.layers_logged;
    const layers: LayerSimulation[] = await simulateLayers(
      logged.length,
      (li) => ({ layer: logged[li]!, rows: layerRows(s, li, k), order, numExperts: E, policies }),
      threadCount({}),
    );
    return buildCacheReport({
      source: sourceOf(read),
      modelId: read.meta.model_id,
      order,
      numExperts: E,
      numExpertsSource: read.numExpertsSource,
      topK: k,
      rows: read.rows,
      requests: read.requests.length,
      capacities,
      targets,
      policies,
      layers,
      notes: read.notes,
    });
  } finally {
    (spill as RowSpill | null)?.dispose();
  }
}

/** One layer's rows as columns, read chunk by chunk from its spill file. */
function layerRows(spill: RowSpill, li: number, k: number): LayerRows {
  const n = spill.count(li);
  const rows: LayerRows = {
    count: n,
    k,
    req: new Int32Array(n),
    token: new Float64Array(n),
    step: new Float64Array(n),
    ids: new Int32Array(n * k),
  };
  let r = 0;
  const base = spill.i32Base;
  for (const c of spill.chunks(li)) {
    for (let i = 0; i < c.count; i++, r++) {
      rows.token[r] = c.f64[i * spill.w64]!;
      rows.step[r] = c.f64[i * spill.w64 + 1]!;
      const o = i * spill.w32 + base;
      rows.req[r] = c.i32[o]!;
      for (let j = 0; j < k; j++) rows.ids[r * k + j] = c.i32[o + 1 + j]!;
    }
  }
  return rows;
}

async function emitCache(report: CacheReport, set: LogSet, opts: CacheOptions): Promise<void> {
  const outDir = await prepareOutDir(opts.out, outAnchor(set));
  const { cacheSpec } = await import("../../render/cache-spec.js");
  const { specToPng } = await import("../../render/to-png.js");
  const png = await specToPng(cacheSpec(report));
  const written = await writeOutputs(outDir, [
    { name: CACHE_JSON, data: toJson(report) },
    { name: CACHE_PNG, data: png },
  ]);
  if (opts.json) {
    process.stdout.write(jsonOutput(report, opts.pretty));
    return;
  }
  for (const n of report.notes) process.stderr.write(`note: ${n}\n`);
  process.stdout.write(cacheSummaryText(report) + `wrote ${written.join(", ")}\n`);
}

const pct = (x: number | null | undefined) => (x === null || x === undefined ? "n/a" : `${(100 * x).toFixed(1)}%`);

export function cacheSummaryText(r: CacheReport): string {
  const lines = [
    `${r.source.file}: ${r.accesses} expert accesses (${r.order} order) over ${r.policies[Object.keys(r.policies)[0] as CachePolicy]!.layers.length} layers, ${r.num_experts} experts, top-${r.top_k}, ${r.model_id}`,
  ];
  const wanted = [r.capacities[0]!, 4, 8, 16, 32, r.capacities[r.capacities.length - 1]!];
  const show = [...new Set(wanted.filter((c) => r.capacities.includes(c)))].sort((a, b) => a - b);
  // Few capacities listed (--capacities): show them all.
  if (r.capacities.length <= 6) show.splice(0, show.length, ...r.capacities);
  lines.push(`hit rate at capacity ${show.join(" / ")}:`);
  for (const [p, v] of Object.entries(r.policies)) {
    lines.push(`  ${p.padEnd(6)} ${show.map((c) => pct(v.hit_rate[r.capacities.indexOf(c)]).padStart(6)).join(" ")}`);
  }
  const targets = r.targets.filter((t) => t >= 0.8 && t <= 0.95);
  for (const t of targets) {
    lines.push(
      `capacity for ${pct(t)} hits: ${Object.entries(r.capacity_for)
        .map(([p, v]) => `${p} ${v[String(t)] ?? `> ${r.capacities[r.capacities.length - 1]}`}`)
        .join(", ")}`,
    );
  }
  return lines.join("\n") + "\n";
}

/** `moe-prof cache`: what the command does once commander has parsed it (cli.ts). */
export async function cacheCommand(files: string[], opts: CacheOptions): Promise<void> {
  const set = logSetOf(files);
  const report = await runCache(set, opts);
  await emitCache(report, set, opts);
}
