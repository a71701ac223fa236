// placement.json: every policy at every GPU count, per layer and over layers. Pure.
import {
  PLACEMENT_POLICIES,
  balancedPlacement,
  coactPlacement,
  contiguousPlacement,
  gpuLoads,
  localAssignments,
  maxOverMean,
  replicatedPlacement,
  workShares,
  type Placement,
  type PlacementPolicy,
} from "./placement.js";

export const PLACEMENT_SCHEMA = "moe-prof.placement/1";
export const DEFAULT_GPUS = [2, 4, 8];
export const DEFAULT_SLACK = 0.05;

/** Redundant slots for `replicated` at G GPUs: --redundant, else the fewest (>= 1) that give every GPU as many slots. */
export function redundantSlots(E: number, G: number, fixed: number | undefined): number {
  if (fixed !== undefined) return fixed;
  return E % G === 0 ? G : G - (E % G);
}

export interface PlanSettings {
  gpus: number[];
  /** --redundant; undefined = redundantSlots' default per G. */
  redundant: number | undefined;
  slack: number;
}

/** One (policy, G) plan of one layer, with what is needed to score steps afterwards. */
export interface LayerPlan {
  policy: PlacementPolicy;
  gpus: number;
  redundant: number;
  placement: Placement;
  shares: { gpu: number; share: number }[][];
  loads: Float64Array;
  maxOverMean: number | null;
  local: number;
  /** Sum over steps of each step's max/mean, and the steps counted. */
  stepSum: number;
  steps: number;
}

/** Plans every policy at every G for one layer: counts per expert, T[a*E+b] = rows with top-1 a routing also to b. */
export function planLayer(counts: Float64Array, T: Float64Array, rows: number, s: PlanSettings): LayerPlan[] {
  const E = counts.length;
  const W = new Float64Array(E * E);
  for (let a = 0; a < E; a++) for (let b = 0; b < E; b++) if (a !== b) W[a * E + b] = T[a * E + b]! + T[b * E + a]!;
  const plans: LayerPlan[] = [];
  for (const policy of PLACEMENT_POLICIES) {
    for (const G of s.gpus) {
      const redundant = policy === "replicated" ? redundantSlots(E, G, s.redundant) : 0;
      const placement =
        policy === "contiguous"
          ? contiguousPlacement(E, G)
          : policy === "balanced"
            ? balancedPlacement(counts, G)
            : policy === "replicated"
              ? replicatedPlacement(counts, G, redundant)
              : coactPlacement(counts, W, G, s.slack);
      const shares = workShares(placement);
      const loads = gpuLoads(placement, counts, shares);
      plans.push({
        policy,
        gpus: G,
        redundant,
        placement,
        shares,
        loads,
        maxOverMean: maxOverMean(loads),
        local: localAssignments(placement, T, rows, shares),
        stepSum: 0,
        steps: 0,
      });
    }
  }
  return plans;
}

/**
 * Scores every plan of one layer on other counts than it was made from (a held-out log, place
 * --eval): loads, max/mean and top-1 locality from these; step statistics start again (addStep).
 */
export function scoreLayer(plans: LayerPlan[], counts: Float64Array, T: Float64Array, rows: number): void {
  for (const p of plans) {
    p.loads = gpuLoads(p.placement, counts, p.shares);
    p.maxOverMean = maxOverMean(p.loads);
    p.local = localAssignments(p.placement, T, rows, p.shares);
    p.stepSum = 0;
    p.steps = 0;
  }
}

/** Adds one engine step (its per-expert counts in this layer) to every plan's step statistics. */
export function addStep(plans: LayerPlan[], stepCounts: Float64Array): void {
  for (const p of plans) {
    const r = maxOverMean(gpuLoads(p.placement, stepCounts, p.shares));
    if (r === null) continue;
    p.stepSum += r;
    p.steps++;
  }
}

export interface LayerEntry {
  layer: number;
  max_over_mean: number | null;
  step_max_over_mean: number | null;
  top1_gpu_share: number | null;
  gpu_loads: number[];
  /** Per GPU, the logical expert of each slot (replicated: replicas, so an expert may appear more than once). */
  experts: number[][];
  /** replicated only: replicas per expert. */
  replicas?: number[];
}

export interface PolicyEntry {
  gpus: number;
  /** replicated only: the redundant slots R. */
  redundant?: number;
  slots_per_gpu: number;
  /** Mean over layers. */
  max_over_mean: number | null;
  /** Mean over layers of each layer's mean over steps; null when rows carry no step. */
  step_max_over_mean: number | null;
  /** All layers' local assignments over all their assignments. */
  top1_gpu_share: number | null;
  layers: LayerEntry[];
}

/** Which log the plans were scored on: the one they were made from, or a held-out one (--eval). */
export interface PlacementScoring {
  kind: "in-sample" | "held-out";
  file: string;
  bytes: number;
  rows: number;
  requests: number;
}

export interface PlacementReport {
  schema: string;
  /** The log the plans were made from. */
  source: { file: string; bytes: number };
  /** The log the figures come from (kind "in-sample": `source` itself). */
  scored_on: PlacementScoring;
  model_id: string;
  num_experts: number;
  num_experts_source: "meta" | "max_id_plus_1";
  top_k: number;
  rows: number;
  requests: number;
  gpus: number[];
  slack: number;
  policies: Record<PlacementPolicy, PolicyEntry[]>;
  /** Per G, the file holding the replicated plan for SGLang's --init-expert-location, or why there is none. */
  sglang_init_expert_location: { gpus: number; file: string | null; reason: string | null }[];
  notes: string[];
}

export interface PlacementReportInput {
  source: { file: string; bytes: number };
  scoredOn: PlacementScoring;
  /** False when the scoring log has no topk_weights: top1_gpu_share is then null. */
  top1Known: boolean;
  modelId: string;
  numExperts: number;
  numExpertsSource: "meta" | "max_id_plus_1";
  topK: number;
  rows: number;
  requests: number;
  settings: PlanSettings;
  /** Per analysed layer: its id, its rows in the scoring log, and its plans (planLayer [+ scoreLayer] + addStep). */
  layers: { layer: number; rows: number; plans: LayerPlan[] }[];
  /** False when some row lacks `step`: step statistics are then null. */
  stepsKnown: boolean;
  sglang: PlacementReport["sglang_init_expert_location"];
  notes: string[];
}

const mean = (xs: (number | null)[]): number | null => {
  const v = xs.filter((x): x is number => x !== null);
  return v.length === xs.length && v.length > 0 ? v.reduce((a, b) => a + b, 0) / v.length : null;
};

export function buildPlacementReport(input: PlacementReportInput): PlacementReport {
  const k = input.topK;
  const policies = {} as Record<PlacementPolicy, PolicyEntry[]>;
  for (const policy of PLACEMENT_POLICIES) {
    policies[policy] = input.settings.gpus.map((G) => {
      const mine = input.layers.map((l) => ({ l, p: l.plans.find((p) => p.policy === policy && p.gpus === G)! }));
      const layers: LayerEntry[] = mine.map(({ l, p }) => ({
        layer: l.layer,
        max_over_mean: p.maxOverMean,
        step_max_over_mean: input.stepsKnown && p.steps > 0 ? p.stepSum / p.steps : null,
        top1_gpu_share: input.top1Known && l.rows > 0 ? p.local / (l.rows * k) : null,
        gpu_loads: Array.from(p.loads),
        experts: p.placement.experts,
        ...(policy === "replicated" ? { replicas: Array.from(p.placement.replicas) } : {}),
      }));
      const assignments = input.layers.reduce((s, l) => s + l.rows * k, 0);
      const redundant = mine[0]?.p.redundant ?? 0;
      return {
        gpus: G,
        ...(policy === "replicated" ? { redundant } : {}),
        slots_per_gpu: Math.ceil((input.numExperts + redundant) / G),
        max_over_mean: mean(layers.map((l) => l.max_over_mean)),
        step_max_over_mean: input.stepsKnown ? mean(layers.map((l) => l.step_max_over_mean)) : null,
        top1_gpu_share:
          input.top1Known && assignments > 0 ? mine.reduce((s, { p }) => s + p.local, 0) / assignments : null,
        layers,
      };
    });
  }
  return {
    schema: PLACEMENT_SCHEMA,
    source: input.source,
    scored_on: input.scoredOn,
    model_id: input.modelId,
    num_experts: input.numExperts,
    num_experts_source: input.numExpertsSource,
    top_k: k,
    rows: input.rows,
    requests: input.requests,
    gpus: input.settings.gpus,
    slack: input.settings.slack,
    policies,
    sglang_init_expert_location: input.sglang,
    notes: input.notes,
  };
}

/**
 * SGLang's `--init-expert-location` file for the replicated plan at G GPUs:
 * {"physical_to_logical_map": [layers][E + R]}, physical expert p living on GPU p // ((E + R) / G)
 * (SGLang's layout), slot order as packed. Rows are layers 0..max logged layer; a layer not in the
 * log gets SGLang's trivial map (p -> p mod E). Null when G does not divide E + R (SGLang requires it).
 */
export function sglangPhysicalToLogical(
  layers: { layer: number; plan: Placement }[],
  E: number,
  R: number,
  G: number,
  /** The model's layer count (place --num-layers); default: the largest logged layer + 1. */
  numLayers?: number,
): { physical_to_logical_map: number[][] } | null {
  const P = E + R;
  if (P % G !== 0) return null;
  const maxLayer = Math.max(...layers.map((l) => l.layer));
  const rows: number[][] = Array.from({ length: numLayers ?? maxLayer + 1 }, () =>
    Array.from({ length: P }, (_, p) => p % E),
  );
  for (const { layer, plan } of layers) rows[layer] = plan.experts.flat();
  return { physical_to_logical_map: rows };
}
