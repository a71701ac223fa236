// `moe-prof place <log> --gpus 2,4,8`: how evenly would each expert-parallel placement load the
// GPUs, and how much of each token's top-k would stay on one GPU? Reads the log once (validating
// it) into per-layer spill files, then plans and scores one layer at a time.
import { scanProgress } from "../scan-progress.js";
import { logName } from "../../routes/log-source.js";
import { readRoutesLog, reportSkipped, sourceOf } from "../../routes/read-log.js";
import { finishedSpill, RowSpill, type SpillRecords, MAX_PARTITIONS } from "../../routes/row-spill.js";
import type { RoutesMeta } from "../../routes/schema.js";
import {
  addStep,
  buildPlacementReport,
  planLayer,
  sglangPhysicalToLogical,
  DEFAULT_GPUS,
  DEFAULT_SLACK,
  type PlacementReport,
  type LayerPlan,
  type PlanSettings,
} from "../../analysis/placement-report.js";
import { PLACEMENT_POLICIES } from "../../analysis/placement.js";
import { parseIntList } from "../../config/number-list.js";
import { prepareOutDir, writeOutputs, toJson, type OutputFile, jsonOutput, readOptions } from "../command-output.js";
import { envError } from "../../errors.js";

export const PLACEMENT_JSON = "placement.json";
export const PLACEMENT_PNG = "placement.png";
export const sglangFileName = (G: number) => `sglang_expert_location_g${G}.json`;

interface PlaceOptions {
  /** --layers 0,5-7: analyse only these (validation still covers all). */
  layers?: string;
  gpus?: string;
  redundant?: string;
  slack?: string;
  /** The model's layer count, for the SGLang files (the log may cover fewer layers). */
  numLayers?: string;
  out?: string;
  json?: boolean;
  pretty?: boolean;
  lenient?: boolean;
}

function parseSlack(text: string | undefined): number {
  const x = Number(text ?? DEFAULT_SLACK);
  if (text === "" || !Number.isFinite(x) || x < 0)
    throw envError(`--slack: cannot read "${text}" (expected a number >= 0, e.g. 0.05)`);
  return x;
}

/** The whole analysis; returns the report and the SGLang files to write (tests call it directly). */
export async function runPlace(
  file: string,
  opts: PlaceOptions,
): Promise<{ report: PlacementReport; sglang: OutputFile[] }> {
  const gpus = parseIntList("--gpus", opts.gpus ?? DEFAULT_GPUS.join(","), 1);
  const redundant = opts.redundant === undefined ? undefined : parseIntList("--redundant", opts.redundant, 0);
  if (redundant && redundant.length !== 1) throw envError("--redundant: one number of redundant slots");
  const slack = parseSlack(opts.slack);
  const numLayers = opts.numLayers === undefined ? undefined : parseIntList("--num-layers", opts.numLayers, 1);
  if (numLayers && numLayers.length !== 1) throw envError("--num-layers: one number, the model's layer count");

  // Spill record: f64 [step or -1], i32 [slot of the top-1 in topk_ids, topk_ids...].
  let spill: RowSpill | null = null;
  let k = 0;
  const f64 = new Float64Array(1);
  let i32 = new Int32Array(1);
  let lastStep = new Float64Array(0);
  let ordered = new Uint8Array(0);
  let withoutStep = 0;
  try {
    const progress = scanProgress(`reading ${logName(file)}`);
    const read = await readRoutesLog(file, readOptions(opts, progress), {
      onMeta(meta: RoutesMeta) {
        const L = meta.layers_logged.length;
        if (L > MAX_PARTITIONS) throw envError(`${file}: ${L} layers logged; place handles at most ${MAX_PARTITIONS}`);
        k = meta.top_k;
        i32 = new Int32Array(1 + k);
        lastStep = new Float64Array(L).fill(-1);
        ordered = new Uint8Array(L).fill(1);
        spill = new RowSpill(L, { f64: 1, i32: 1 + k });
      },
      onRow(row, _req, li) {
        const step = row.step ?? -1;
        if (row.step === undefined) withoutStep++;
        else if (step < lastStep[li]!) ordered[li] = 0;
        else lastStep[li] = step;
        f64[0] = step;
        const ws = row.topk_weights;
        let best = 0;
        for (let j = 1; j < k; j++) if (ws[j]! > ws[best]!) best = j;
        i32[0] = best;
        for (let j = 0; j < k; j++) i32[1 + j] = row.topk_ids[j]!;
        spill!.append(li, f64, i32);
      },
    }).finally(() => progress?.end());
    const s = finishedSpill(spill, file);
    reportSkipped(read, (t) => process.stderr.write(t));
    const E = read.numExperts;
    const tooMany = gpus.filter((G) => G > E);
    if (tooMany.length)
      throw envError(
        `--gpus: ${tooMany.join(",")} ${tooMany.length === 1 ? "exceeds" : "exceed"} the ${E} experts of ${file}`,
      );
    const settings: PlanSettings = { gpus, redundant: redundant?.[0], slack };
    const notes = [...read.notes];
    const stepsKnown = withoutStep === 0;
    if (!stepsKnown) notes.push(`${withoutStep} rows carry no step: step_max_over_mean is null`);

    const layers = read.meta.layers_logged.map((layer, li) => {
      const { counts, T, rows } = layerCounts(s, li, E, k);
      const plans = planLayer(counts, T, rows, settings);
      if (stepsKnown) for (const stepCounts of stepGroups(s, li, E, k, ordered[li] === 1)) addStep(plans, stepCounts);
      return { layer, rows, plans };
    });

    const maxLayer = Math.max(...read.meta.layers_logged);
    if (numLayers !== undefined && numLayers[0]! <= maxLayer)
      throw envError(`--num-layers: ${numLayers[0]} does not hold the logged layer ${maxLayer} (layers count from 0)`);
    if (numLayers === undefined && gpus.length > 0)
      notes.push(
        `the SGLang files cover layers 0..${maxLayer}, the log's largest layer: for a model with more layers pass --num-layers N`,
      );
    const sglang: OutputFile[] = [];
    const sglangInfo: PlacementReport["sglang_init_expert_location"] = [];
    for (const G of gpus) {
      const R = layers[0]!.plans.find((p) => p.policy === "replicated" && p.gpus === G)!.redundant;
      const plan = (l: (typeof layers)[number]) =>
        l.plans.find((p: LayerPlan) => p.policy === "replicated" && p.gpus === G)!.placement;
      const map = sglangPhysicalToLogical(
        layers.map((l) => ({ layer: l.layer, plan: plan(l) })),
        E,
        R,
        G,
        numLayers?.[0],
      );
      if (map === null) {
        sglangInfo.push({
          gpus: G,
          file: null,
          reason: `SGLang needs E + R = ${E + R} physical experts to divide evenly over ${G} GPUs`,
        });
        continue;
      }
      const unlogged = map.physical_to_logical_map.length - layers.length;
      const reasons = [
        unlogged > 0
          ? `${unlogged} of its ${map.physical_to_logical_map.length} layers are not in the log: they get SGLang's trivial map`
          : null,
        numLayers === undefined
          ? `it covers layers 0..${maxLayer} (the log's largest layer + 1): a model with more layers needs --num-layers N, or SGLang refuses the map`
          : null,
      ].filter((x): x is string => x !== null);
      sglangInfo.push({ gpus: G, file: sglangFileName(G), reason: reasons.length ? reasons.join("; ") : null });
      sglang.push({ name: sglangFileName(G), data: toJson(map) });
    }
    const report = buildPlacementReport({
      source: sourceOf(read),
      modelId: read.meta.model_id,
      numExperts: E,
      numExpertsSource: read.numExpertsSource,
      topK: k,
      rows: read.rows,
      requests: read.requests.length,
      settings,
      layers,
      stepsKnown,
      sglang: sglangInfo,
      notes,
    });
    return { report, sglang };
  } finally {
    (spill as RowSpill | null)?.dispose();
  }
}

/** One layer's expert counts and T[a*E+b] (rows with top-1 a that also route to b), streamed from its spill. */
function layerCounts(
  spill: RowSpill,
  li: number,
  E: number,
  k: number,
): { counts: Float64Array; T: Float64Array; rows: number } {
  const counts = new Float64Array(E);
  const T = new Float64Array(E * E);
  let rows = 0;
  for (const c of spill.chunks(li)) {
    for (let i = 0; i < c.count; i++) {
      const o = i * spill.w32 + spill.i32Base;
      const a = c.i32[o + 1 + c.i32[o]!]!;
      for (let j = 0; j < k; j++) {
        const b = c.i32[o + 1 + j]!;
        counts[b]!++;
        if (b !== a) T[a * E + b]!++;
      }
    }
    rows += c.count;
  }
  return { counts, T, rows };
}

/**
 * Per engine step of one layer, its per-expert counts (one buffer, reused: consume it at once).
 * Rows of one step arrive together in the capture's logs (steps never go back within a layer):
 * then the spill is streamed. Otherwise the layer's steps and ids are loaded and sorted.
 */
function* stepGroups(spill: RowSpill, li: number, E: number, k: number, ordered: boolean): Generator<Float64Array> {
  const counts = new Float64Array(E);
  let current = -1;
  let any = false;
  for (const { records: c, order } of inStepOrder(spill, li, ordered)) {
    for (let n = 0; n < c.count; n++) {
      const i = order === null ? n : order[n]!;
      const step = c.f64[i * spill.w64]!;
      if (any && step !== current) {
        yield counts;
        counts.fill(0);
      }
      current = step;
      any = true;
      const o = i * spill.w32 + spill.i32Base + 1;
      for (let j = 0; j < k; j++) counts[c.i32[o + j]!]!++;
    }
  }
  if (any) yield counts;
}

/** A layer's records and the order to visit them in: chunk by chunk as spilled (order null: as they
 * are) when its steps are already in order, else all of them at once, sorted by step (stable). */
function* inStepOrder(
  spill: RowSpill,
  li: number,
  ordered: boolean,
): Generator<{ records: SpillRecords; order: number[] | null }> {
  if (ordered) {
    for (const c of spill.chunks(li)) yield { records: c, order: null };
    return;
  }
  const all = spill.readAll(li);
  const order = Array.from({ length: all.count }, (_, i) => i).sort(
    (a, b) => all.f64[a * spill.w64]! - all.f64[b * spill.w64]! || a - b,
  );
  yield { records: all, order };
}

async function emitPlace(
  report: PlacementReport,
  sglang: OutputFile[],
  file: string,
  opts: PlaceOptions,
): Promise<void> {
  const outDir = await prepareOutDir(opts.out, file);
  const { placementSpec } = await import("../../render/placement-spec.js");
  const { specToPng } = await import("../../render/to-png.js");
  const png = await specToPng(placementSpec(report));
  const written = await writeOutputs(outDir, [
    { name: PLACEMENT_JSON, data: toJson(report) },
    { name: PLACEMENT_PNG, data: png },
    ...sglang,
  ]);
  if (opts.json) {
    process.stdout.write(jsonOutput(report, opts.pretty));
    return;
  }
  for (const n of report.notes) process.stderr.write(`note: ${n}\n`);
  process.stdout.write(placementSummaryText(report) + `wrote ${written.join(", ")}\n`);
}

const f2 = (x: number | null) => (x === null ? "n/a" : x.toFixed(2));
const pct = (x: number | null) => (x === null ? "n/a" : `${(100 * x).toFixed(1)}%`);

export function placementSummaryText(r: PlacementReport): string {
  const lines = [
    `${r.source.file}: ${r.rows} rows, ${r.requests} requests, ${r.policies.balanced[0]!.layers.length} layers, top-${r.top_k} of ${r.num_experts} experts, ${r.model_id}`,
    `max/mean GPU load (mean over layers${r.policies.balanced[0]!.step_max_over_mean === null ? "" : "; per step in brackets"}), share of top-k on the top-1's GPU; in-sample (scored on the log the plans were made from):`,
  ];
  for (const policy of PLACEMENT_POLICIES) {
    const cells = r.policies[policy].map((e) => {
      const step = e.step_max_over_mean === null ? "" : ` [${f2(e.step_max_over_mean)}]`;
      const red = e.redundant === undefined ? "" : `, R=${e.redundant}`;
      return `G=${e.gpus}${red}: ${f2(e.max_over_mean)}${step} ${pct(e.top1_gpu_share)}`;
    });
    lines.push(`  ${policy.padEnd(10)} ${cells.join("   ")}`);
  }
  return lines.join("\n") + "\n";
}

/** `moe-prof place`: what the command does once commander has parsed it (cli.ts). */
export async function placeCommand(file: string, opts: PlaceOptions): Promise<void> {
  const { report, sglang } = await runPlace(file, opts);
  await emitPlace(report, sglang, file, opts);
}
