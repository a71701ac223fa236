// The meta step of the scan: line 1 of a routes log (a Parquet log's key-value metadata) must be
// the meta line, and it sets the rules every route row is checked against.
import { MetaSchema, firstSchemaProblem, type RoutesMeta } from "./schema.js";
import { notAnObject } from "./scan-line.js";

export type MetaVerdict =
  { meta: RoutesMeta; field?: undefined; what?: undefined } | { meta: null; field: string | null; what: string };

/** The meta line's value, checked: the meta, or the problem that refuses the log. */
export function checkMetaLine(value: unknown): MetaVerdict {
  const nonObject = notAnObject(value);
  if (nonObject !== null) return { meta: null, field: null, what: nonObject };
  const type = (value as { type?: unknown }).type;
  if (type !== "meta") {
    return {
      meta: null,
      field: "type",
      what: `line 1 must be the meta line ({"type":"meta", ...}), got ${JSON.stringify(type) ?? "no type"}`,
    };
  }
  const problem = firstSchemaProblem(MetaSchema, value);
  if (problem) return { meta: null, field: problem[0], what: problem[1] };
  return { meta: MetaSchema.parse(value) };
}
