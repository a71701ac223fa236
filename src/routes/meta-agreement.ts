// Files read as one log must describe one model: the same num_experts, top_k and layers_logged in
// their meta lines. The first disagreement is worded `FILE: meta: FIELD: ...` naming the file
// it is compared with (the set's first file).
import type { RoutesMeta } from "./schema.js";

const show = (v: unknown): string => (v === undefined ? "not given" : JSON.stringify(v));

/** Null when `meta` (of `file`) agrees with `first` (of `firstFile`); else the one-line problem. */
export function metaDisagreement(firstFile: string, first: RoutesMeta, file: string, meta: RoutesMeta): string | null {
  const fields: [string, unknown, unknown][] = [
    ["num_experts", meta.num_experts, first.num_experts],
    ["top_k", meta.top_k, first.top_k],
    ["layers_logged", meta.layers_logged, first.layers_logged],
  ];
  for (const [field, mine, theirs] of fields) {
    if (show(mine) === show(theirs)) continue;
    return `${file}: meta: ${field}: ${show(mine)}, but ${firstFile} has ${show(theirs)} (files read as one log must be of one model)`;
  }
  return null;
}
