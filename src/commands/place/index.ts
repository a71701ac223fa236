// `moe-prof place <log> --gpus 2,4,8`: how evenly would each expert-parallel placement load the
// GPUs, and how much of each token's top-k would stay on one GPU? Reads the log once (validating
// it) into per-layer spill files, then plans and scores one layer at a time: on the same log
// (in-sample), or with --eval on a held-out log of the same model.
import { logName } from "../../routes/log-source.js";
import { sourceOf } from "../../routes/read-log.js";
import { logSetOf, outAnchor, setWhere, type LogInput, type LogSet } from "../../routes/log-set.js";
import type { RoutesMeta } from "../../routes/schema.js";
import { hasWeights, noTop1Reason } from "../../routes/weights.js";
import {
  addStep,
  buildPlacementReport,
  planLayer,
  scoreLayer,
  sglangPhysicalToLogical,
  DEFAULT_GPUS,
  DEFAULT_SLACK,
  type PlacementReport,
  type LayerPlan,
  type PlanSettings,
} from "../../analysis/placement-report.js";
import { PLACEMENT_POLICIES } from "../../analysis/placement.js";
import { parseIntList } from "../../config/number-list.js";
import { prepareOutDir, writeOutputs, toJson, type OutputFile, jsonOutput } from "../command-output.js";
import { envError } from "../../errors.js";
import { layerCounts, readPlaceLog, stepGroups, type PlaceLog } from "./place-log.js";

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
  /** --eval LOG: score the plans on this held-out log instead of the one they were made from. */
  eval?: string;
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
  input: LogInput,
  opts: PlaceOptions,
): Promise<{ report: PlacementReport; sglang: OutputFile[] }> {
  const set = logSetOf(input);
  const file = setWhere(set);
  const gpus = parseIntList("--gpus", opts.gpus ?? DEFAULT_GPUS.join(","), 1);
  const redundant = opts.redundant === undefined ? undefined : parseIntList("--redundant", opts.redundant, 0);
  if (redundant && redundant.length !== 1) throw envError("--redundant: one number of redundant slots");
  const slack = parseSlack(opts.slack);
  const numLayersOpt = opts.numLayers === undefined ? undefined : parseIntList("--num-layers", opts.numLayers, 1);
  if (numLayersOpt && numLayersOpt.length !== 1) throw envError("--num-layers: one number, the model's layer count");

  let plan: PlaceLog | null = null;
  let held: PlaceLog | null = null;
  try {
    plan = await readPlaceLog(set, opts);
    const { read, k } = plan;
    const E = read.numExperts;
    const tooMany = gpus.filter((G) => G > E);
    if (tooMany.length)
      throw envError(
        `--gpus: ${tooMany.join(",")} ${tooMany.length === 1 ? "exceeds" : "exceed"} the ${E} experts of ${file}`,
      );
    if (opts.eval !== undefined) held = await readHeldOut(opts.eval, opts, file, plan);
    const scoring = held ?? plan;
    const settings: PlanSettings = { gpus, redundant: redundant?.[0], slack };
    const notes = [...read.notes, ...(held ? held.read.notes.map((n) => `--eval: ${n}`) : [])];
    if (held && held.read.meta.model_id !== read.meta.model_id)
      notes.push(
        `--eval: model_id differs (${held.read.meta.model_id} vs ${read.meta.model_id}); experts, top_k and layers agree`,
      );
    if (!hasWeights(read.meta))
      notes.push(
        `${noTop1Reason(read.meta)}: top1_gpu_share is not given, and coact has no co-activation to keep together (its plan is balanced's)`,
      );
    else if (held && !hasWeights(held.read.meta))
      notes.push(`--eval: ${noTop1Reason(held.read.meta)}: top1_gpu_share is not given`);
    const stepsKnown = scoring.withoutStep === 0;
    if (!stepsKnown) notes.push(`${scoring.withoutStep} rows carry no step: step_max_over_mean is null`);

    const layers = plan.layers.map((layer, li) => {
      const made = layerCounts(plan!.spill, li, E, k);
      const plans = planLayer(made.counts, made.T, made.rows, settings);
      let rows = made.rows;
      if (held) {
        const seen = layerCounts(held.spill, li, E, k);
        scoreLayer(plans, seen.counts, seen.T, seen.rows);
        rows = seen.rows;
      }
      if (stepsKnown)
        for (const stepCounts of stepGroups(scoring.spill, li, E, k, scoring.ordered[li] === 1))
          addStep(plans, stepCounts);
      return { layer, rows, plans };
    });

    const numLayers = modelLayers(file, read.meta, numLayersOpt?.[0]);
    const maxLayer = Math.max(...read.meta.layers_logged);
    if (numLayers === undefined && gpus.length > 0)
      notes.push(
        `the SGLang files cover layers 0..${maxLayer}, the log's largest layer: for a model with more layers pass --num-layers N`,
      );
    const { sglang, sglangInfo } = sglangFiles(layers, gpus, E, numLayers, maxLayer);
    const report = buildPlacementReport({
      source: sourceOf(read),
      scoredOn: {
        kind: held ? "held-out" : "in-sample",
        ...sourceOf(scoring.read),
        rows: scoring.read.rows,
        requests: scoring.read.requests.length,
      },
      top1Known: hasWeights(scoring.read.meta),
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
    plan?.spill.dispose();
    held?.spill.dispose();
  }
}

/**
 * Reads the held-out log of --eval: the same model as the plans' log (top_k, num_experts, the
 * analysed layers logged), or a one-line usage error naming the file and the field.
 */
async function readHeldOut(evalFile: string, opts: PlaceOptions, file: string, plan: PlaceLog): Promise<PlaceLog> {
  const mine = plan.read.meta;
  const differs = (field: string, theirs: unknown, ours: unknown) =>
    envError(
      `--eval ${logName(evalFile)}: ${field}: ${String(theirs)}, but ${logName(file)} (the plans' log) has ${String(ours)}; a held-out log must be of the same model`,
    );
  const held = await readPlaceLog(evalFile, opts, (meta) => {
    if (meta.top_k !== mine.top_k) throw differs("top_k", meta.top_k, mine.top_k);
    if (meta.num_experts !== undefined && mine.num_experts !== undefined && meta.num_experts !== mine.num_experts)
      throw differs("num_experts", meta.num_experts, mine.num_experts);
    const missing = plan.layers.filter((l) => !meta.layers_logged.includes(l));
    if (missing.length)
      throw envError(
        `--eval ${logName(evalFile)}: layers_logged: lacks layer${missing.length === 1 ? "" : "s"} ${missing.join(",")} of the plans (${plan.layers.join(",")}); a held-out log must log the layers it scores`,
      );
    return plan.layers;
  });
  if (held.read.numExperts > plan.read.numExperts) {
    held.spill.dispose();
    throw differs(
      held.read.numExpertsSource === "meta" ? "num_experts" : "num_experts (max expert id + 1)",
      held.read.numExperts,
      plan.read.numExperts,
    );
  }
  return held;
}

/** The model's layer count for the SGLang files: --num-layers, else the meta line's num_layers. */
function modelLayers(file: string, meta: RoutesMeta, option: number | undefined): number | undefined {
  const maxLayer = Math.max(...meta.layers_logged);
  if (option !== undefined && option <= maxLayer)
    throw envError(`--num-layers: ${option} does not hold the logged layer ${maxLayer} (layers count from 0)`);
  if (option !== undefined && meta.num_layers !== undefined && option !== meta.num_layers)
    throw envError(
      `--num-layers: ${option}, but the meta line of ${logName(file)} says num_layers ${meta.num_layers} (the model's layer count)`,
    );
  return option ?? meta.num_layers;
}

/** Per G, SGLang's --init-expert-location file of the replicated plan, or why there is none. */
function sglangFiles(
  layers: { layer: number; plans: LayerPlan[] }[],
  gpus: number[],
  E: number,
  numLayers: number | undefined,
  maxLayer: number,
): { sglang: OutputFile[]; sglangInfo: PlacementReport["sglang_init_expert_location"] } {
  const sglang: OutputFile[] = [];
  const sglangInfo: PlacementReport["sglang_init_expert_location"] = [];
  for (const G of gpus) {
    const replicated = (l: (typeof layers)[number]) =>
      l.plans.find((p: LayerPlan) => p.policy === "replicated" && p.gpus === G)!;
    const R = replicated(layers[0]!).redundant;
    const map = sglangPhysicalToLogical(
      layers.map((l) => ({ layer: l.layer, plan: replicated(l).placement })),
      E,
      R,
      G,
      numLayers,
    );
    if (map === null) {
      sglangInfo.push({
        gpus: G,
        file: null,
        reason: `SGLang needs E + R = ${E + R} physical experts to divide evenly over ${G} GPUs`,
      });
      continue;
    }
    const total = map.physical_to_logical_map.length;
    const unlogged = total - layers.length;
    const reasons = [
      unlogged > 0 ? `${unlogged} of its ${total} layers are not in the log: they get SGLang's trivial map` : null,
      numLayers === undefined
        ? `it covers layers 0..${maxLayer} (the log's largest layer + 1): a model with more layers needs --num-layers N, or SGLang refuses the map`
        : null,
    ].filter((x): x is string => x !== null);
    sglangInfo.push({ gpus: G, file: sglangFileName(G), reason: reasons.length ? reasons.join("; ") : null });
    sglang.push({ name: sglangFileName(G), data: toJson(map) });
  }
  return { sglang, sglangInfo };
}

async function emitPlace(
  report: PlacementReport,
  sglang: OutputFile[],
  set: LogSet,
  opts: PlaceOptions,
): Promise<void> {
  const outDir = await prepareOutDir(opts.out, outAnchor(set));
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

/** Which log the figures come from, in words (the summary and placement.png). */
export function scoredOnText(r: PlacementReport): string {
  const o = r.scored_on;
  return o.kind === "in-sample"
    ? "in-sample (scored on the log the plans were made from)"
    : `held-out (plans made from ${r.source.file}, scored on ${o.file}: ${o.rows} rows, ${o.requests} requests)`;
}

const f2 = (x: number | null) => (x === null ? "n/a" : x.toFixed(2));
const pct = (x: number | null) => (x === null ? "n/a" : `${(100 * x).toFixed(1)}%`);

export function placementSummaryText(r: PlacementReport): string {
  const lines = [
    `${r.source.file}: ${r.rows} rows, ${r.requests} requests, ${r.policies.balanced[0]!.layers.length} layers, top-${r.top_k} of ${r.num_experts} experts, ${r.model_id}`,
    `max/mean GPU load (mean over layers${r.policies.balanced[0]!.step_max_over_mean === null ? "" : "; per step in brackets"}), share of top-k on the top-1's GPU; ${scoredOnText(r)}:`,
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
export async function placeCommand(files: string[], opts: PlaceOptions): Promise<void> {
  const set = logSetOf(files);
  const { report, sglang } = await runPlace(set, opts);
  await emitPlace(report, sglang, set, opts);
}
