// Logs whose rows carry no topk_weights (meta weights_logged: false, e.g. `moe-prof import`): how
// commands ask, and how they say it. Kept apart from schema.ts so that callers load no zod.
import type { RoutesMeta } from "./schema.js";

/** Whether the log's rows carry topk_weights (meta weights_logged, default true). */
export const hasWeights = (meta: RoutesMeta): boolean => meta.weights_logged !== false;

/** That the log's rows carry no weights, in words, for notes and errors. */
export function noWeightsReason(meta: RoutesMeta): string {
  const from = meta.imported_from === undefined ? "" : ` (imported from ${meta.imported_from})`;
  return `the log has no topk_weights${from}`;
}

/** ... and what follows for a row's top-1 (its highest weight). */
export const noTop1Reason = (meta: RoutesMeta): string =>
  `${noWeightsReason(meta)}, so a row's top-1 expert is unknown`;
