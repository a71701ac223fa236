// Hot-path check of a parsed route line. Running zod on millions of lines costs more than the
// rest of `hist` together, so this hand-written predicate decides valid/invalid and zod is run
// only on lines it rejects, to word the error. It must accept exactly what routeSchema() accepts:
// test/route-check.test.ts compares the two on many valid and invalid lines.
import type { RouteRules } from "./schema.js";

/** A route line that passed the check; extra keys may be present and are ignored here. */
export interface CheckedRoute {
  type: "route";
  req_id: string;
  token_idx: number;
  layer: number;
  topk_ids: number[];
  /** Absent exactly when the meta line says weights_logged: false. */
  topk_weights?: number[];
  phase?: "prefill" | "decode";
  token_id?: number;
  step?: number;
}

export type RouteCheck = (v: unknown) => v is CheckedRoute;

// zod 4's .int() means a safe integer (|n| <= 2^53 - 1); these checks must mean the same.
function isNonNegInt(x: unknown): boolean {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}

export function makeRouteCheck(rules: RouteRules): RouteCheck {
  const k = rules.topK;
  const limit = rules.expertLimit;
  const weights = rules.weights !== false;
  const maxLayer = Math.max(...rules.layers);
  const layerOk = new Uint8Array(maxLayer + 1);
  for (const l of rules.layers) layerOk[l] = 1;

  return (v: unknown): v is CheckedRoute => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
    const o = v as Record<string, unknown>;
    if (o.type !== "route" || typeof o.req_id !== "string") return false;
    if (!isNonNegInt(o.token_idx)) return false;
    const layer = o.layer;
    if (
      typeof layer !== "number" ||
      !Number.isSafeInteger(layer) ||
      layer < 0 ||
      layer > maxLayer ||
      layerOk[layer] !== 1
    )
      return false;
    const ids = o.topk_ids;
    if (!Array.isArray(ids) || ids.length !== k) return false;
    for (let i = 0; i < k; i++) {
      const id: unknown = ids[i];
      if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 0 || id >= limit) return false;
      // top_k is small (2..8 in practice): a quadratic distinctness check beats allocating a Set.
      for (let j = 0; j < i; j++) if (ids[j] === id) return false;
    }
    const ws = o.topk_weights;
    if (!weights) {
      if (ws !== undefined) return false;
    } else {
      if (!Array.isArray(ws) || ws.length !== k) return false;
      for (let i = 0; i < k; i++) {
        const w: unknown = ws[i];
        if (typeof w !== "number" || !(w >= 0 && w <= 1)) return false;
      }
    }
    const phase = o.phase;
    if (phase !== undefined && phase !== "prefill" && phase !== "decode") return false;
    if (o.token_id !== undefined && !isNonNegInt(o.token_id)) return false;
    if (o.step !== undefined && !isNonNegInt(o.step)) return false;
    return true;
  };
}
