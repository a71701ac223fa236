// The routes-log schema, defined once. Everything else (the fast checker, validation, the docs)
// follows these zod schemas; test/route-check.test.ts proves the fast checker agrees with them.
import { z } from "zod";
import { MAX_LAYER_EXPERT_CELLS, MAX_TOP_K } from "./limits.js";

/**
 * Upper bound on expert ids when the meta line does not say `num_experts`. No MoE comes near it;
 * it exists so that one absurd id cannot make the per-expert tallies allocate gigabytes.
 */
export const MAX_EXPERT_ID = 65_535;
/** Same idea for layer numbers: lookups are dense arrays indexed by layer. */
export const MAX_LAYER = 65_535;

/**
 * A JSON integer. Beyond 2^53 - 1 JSON numbers lose digits when read (here, in Python's json with
 * floats, in jq), so such a value is refused with that reason rather than "not an integer".
 * Same acceptance as zod's .int() (a safe integer), which route-check.ts mirrors.
 */
export const UNSAFE_INT =
  "must be within ±(2^53 - 1) = ±9007199254740991: larger integers cannot be read exactly from JSON";
const jsonInt = () =>
  z
    .number("must be an integer")
    .refine(Number.isInteger, "must be an integer")
    .refine(Number.isSafeInteger, UNSAFE_INT);
const nonNegInt = jsonInt().nonnegative("must be >= 0");

export const MetaSchema = z
  .looseObject({
    type: z.literal("meta", 'must be "meta"'),
    model_id: z.string("must be a string"),
    vllm_version: z.string("must be a string"),
    torch_version: z.string("must be a string"),
    device: z.string("must be a string"),
    seed: jsonInt(),
    layers_logged: z
      .array(nonNegInt.max(MAX_LAYER, `must be <= ${MAX_LAYER}`), "must be an array of layer numbers")
      .min(1, "must not be empty")
      .refine((ls) => new Set(ls).size === ls.length, "must not repeat a layer"),
    top_k: jsonInt()
      .min(1, "must be >= 1")
      .max(MAX_TOP_K, `must be <= ${MAX_TOP_K} (moe-prof's limit, README "Limits")`),
    // Optional fields written by later versions of the capture; absent in seed-schema logs.
    num_experts: jsonInt()
      .min(1, "must be >= 1")
      .max(MAX_EXPERT_ID + 1, `must be <= ${MAX_EXPERT_ID + 1}`)
      .optional(),
    schema_version: z.union([jsonInt(), z.string()], "must be an integer or a string").optional(),
    engine: z.string("must be a string").optional(),
    created_at: z.string("must be a string").optional(),
    // true: rows exist only for computed positions (vLLM's prefix cache served the rest)
    prefix_caching: z.boolean("must be true or false").optional(),
    prompts: z.unknown().optional(),
    // The model's decoder layer count (config num_hidden_layers): layers 0..num_layers-1 exist,
    // logged or not (place's SGLang files cover them all).
    num_layers: jsonInt()
      .min(1, "must be >= 1")
      .max(MAX_LAYER + 1, `must be <= ${MAX_LAYER + 1}`)
      .optional(),
    // false: the rows carry no topk_weights (a capture imported from an engine that records only
    // the expert ids, `moe-prof import`); analyses that need a row's top-1 say so and skip.
    weights_logged: z.boolean("must be true or false").optional(),
    // `moe-prof import`: the format the rows were converted from.
    imported_from: z.string("must be a string").optional(),
  })
  .refine((m) => m.num_layers === undefined || m.layers_logged.every((l) => l < m.num_layers!), {
    message: "must be > every layer in layers_logged (layers count from 0)",
    path: ["num_layers"],
  })
  .refine((m) => m.num_experts === undefined || m.top_k <= m.num_experts, {
    message: "must be <= num_experts",
    path: ["top_k"],
  })
  .superRefine((m, ctx) => {
    // The shape is refused here, before any row, rather than after gigabytes of counters.
    const cells = m.num_experts === undefined ? 0 : m.layers_logged.length * m.num_experts;
    if (cells > MAX_LAYER_EXPERT_CELLS)
      ctx.addIssue({
        code: "custom",
        path: ["num_experts"],
        message: `${m.num_experts} experts x ${m.layers_logged.length} layers logged = ${cells} counters: over moe-prof's limit of ${MAX_LAYER_EXPERT_CELLS} (README "Limits")`,
      });
  });

export type RoutesMeta = z.infer<typeof MetaSchema>;

/** What a route line is checked against: the parts of the meta line that constrain it. */
export interface RouteRules {
  layers: readonly number[];
  topK: number;
  /** Exclusive bound on expert ids: meta.num_experts; without it MAX_EXPERT_ID + 1, or less where the layer x expert limit says so. */
  expertLimit: number;
  /** The message for an id at or above expertLimit (default: "must be < expertLimit"). */
  expertLimitMessage?: string;
  /** False (meta weights_logged: false): rows carry no topk_weights. Default true. */
  weights?: boolean;
}

export function routeRulesFromMeta(meta: RoutesMeta): RouteRules {
  const L = meta.layers_logged.length;
  const rules = { layers: meta.layers_logged, topK: meta.top_k, weights: meta.weights_logged !== false };
  if (meta.num_experts !== undefined)
    return {
      ...rules,
      expertLimit: meta.num_experts,
      expertLimitMessage: `must be < num_experts (${meta.num_experts})`,
    };
  const byCells = Math.floor(MAX_LAYER_EXPERT_CELLS / L);
  if (byCells > MAX_EXPERT_ID)
    return { ...rules, expertLimit: MAX_EXPERT_ID + 1, expertLimitMessage: `must be <= ${MAX_EXPERT_ID}` };
  return {
    ...rules,
    expertLimit: byCells,
    expertLimitMessage: `must be < ${byCells}: with num_experts not declared and ${L} layers logged, moe-prof's limit of ${MAX_LAYER_EXPERT_CELLS} layer x expert counters allows ids up to ${byCells - 1} (README "Limits")`,
  };
}

/** The route-line schema for one log (layer set, top_k and expert bound come from its meta line). */
export function routeSchema(rules: RouteRules) {
  const layerSet = new Set(rules.layers);
  const k = rules.topK;
  const limitMsg = rules.expertLimitMessage ?? `must be < ${rules.expertLimit}`;
  return z.looseObject({
    type: z.literal("route", 'must be "route"'),
    req_id: z.string("must be a string"),
    token_idx: nonNegInt,
    layer: jsonInt().refine((l) => layerSet.has(l), `must be one of layers_logged [${rules.layers.join(",")}]`),
    topk_ids: z
      .array(nonNegInt.lt(rules.expertLimit, limitMsg), "must be an array of expert ids")
      .length(k, `must have top_k = ${k} entries`)
      .refine((ids) => new Set(ids).size === ids.length, "must not repeat an expert"),
    topk_weights:
      rules.weights === false
        ? z.undefined("must be absent: the meta line says weights_logged: false")
        : z
            .array(
              z.number("must be a finite number").min(0, "must be in [0, 1]").max(1, "must be in [0, 1]"),
              "must be an array of numbers",
            )
            .length(k, `must have top_k = ${k} entries`),
    phase: z.enum(["prefill", "decode"], 'must be "prefill" or "decode"').optional(),
    token_id: nonNegInt.optional(),
    step: nonNegInt.optional(),
  });
}

export type RouteRow = z.infer<ReturnType<typeof routeSchema>>;

/** Turns a zod issue path into the field name users see: `topk_ids[2]`, `layers_logged`. */
export function fieldName(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || "(line)";
}

/** First problem zod finds, as [field, what], or null when the value is valid. */
export function firstSchemaProblem(schema: z.ZodType, value: unknown): [string, string] | null {
  const r = schema.safeParse(value);
  if (r.success) return null;
  const issue = r.error.issues[0]!;
  // A missing key reports as "must be a string" etc.; say "missing" instead, it is what happened.
  if (
    issue.code === "invalid_type" &&
    issue.path.length === 1 &&
    value !== null &&
    typeof value === "object" &&
    !((issue.path[0] as string) in value)
  ) {
    return [fieldName(issue.path), "missing"];
  }
  return [fieldName(issue.path), issue.message];
}
