// Conservation: every logged layer holds exactly the token rows the engine computed per request.
// A request of P prompt tokens that generated G tokens is computed as P + G - 1 rows, at positions
// 0 .. P+G-2 (the last sampled token is never fed back). With prefix caching, the C prompt tokens
// served from the cache are never computed: P + G - 1 - C rows at positions C .. P+G-2.
// Exception, vLLM with async scheduling (its default): the step after the one that sampled a stop
// token is scheduled before that token is seen, so a request that stopped before max_tokens is
// computed (and its output discarded) once more, at position P+G-1: `extraRows` = 1.
// Validation has already rejected duplicate rows, so count + first + last position pin the set.

export interface LoggedRequestRows {
  req_id: string;
  /** Rows per logged layer, in `layers` order. */
  rows_per_layer: number[];
  min_token_idx: number;
  max_token_idx: number;
}

export interface ExpectedRequest {
  promptTokens: number;
  outputTokens: number;
  /** Prompt tokens served from the prefix cache (never computed). */
  cachedTokens?: number;
  /** Rows computed after the request's stop (async scheduling), 0 or 1. */
  extraRows?: number;
}

const firstOf = (e: ExpectedRequest) => e.cachedTokens ?? 0;
const rowsOf = (e: ExpectedRequest) => e.promptTokens + e.outputTokens - 1 + (e.extraRows ?? 0) - firstOf(e);

export interface ConservationResult {
  ok: boolean;
  requests_checked: number;
  layers_checked: number;
  expected_rows_per_layer: number;
  /** Of those, rows computed after a request's stop (async scheduling; see above). */
  rows_computed_after_stop: number;
  violations: string[];
}

const MAX_REPORTED = 20;

export function checkConservation(
  expected: ExpectedRequest[],
  logged: LoggedRequestRows[],
  layers: number[],
): ConservationResult {
  const violations: string[] = [];
  let extra = 0;
  const note = (v: string) => {
    if (violations.length < MAX_REPORTED) violations.push(v);
    else extra++;
  };
  const byReq = new Map(logged.map((r) => [r.req_id, r]));
  expected.forEach((e, i) => {
    const want = rowsOf(e);
    const got = byReq.get(String(i));
    const first = firstOf(e);
    const pg = `P=${e.promptTokens}, G=${e.outputTokens}${first ? `, C=${first} cached` : ""}${e.extraRows ? ", +1 row computed after the stop" : ""}`;
    if (!got) return note(`request ${i}: no rows in the log, expected ${want} per layer (${pg})`);
    got.rows_per_layer.forEach((n, li) => {
      if (n !== want) note(`request ${i}, layer ${layers[li]}: ${n} rows, expected ${want} (${pg})`);
    });
    if (got.min_token_idx !== first || got.max_token_idx !== first + want - 1)
      note(
        `request ${i}: token_idx ${got.min_token_idx}..${got.max_token_idx}, expected ${first}..${first + want - 1} (${pg})`,
      );
  });
  for (const r of logged) {
    const n = Number(r.req_id);
    if (!(Number.isInteger(n) && n >= 0 && n < expected.length && String(n) === r.req_id))
      note(`rows for request "${r.req_id}", which the run did not measure`);
  }
  if (extra > 0) violations.push(`... and ${extra} more`);
  return {
    ok: violations.length === 0,
    requests_checked: expected.length,
    layers_checked: layers.length,
    expected_rows_per_layer: expected.reduce((a, e) => a + rowsOf(e), 0),
    rows_computed_after_stop: expected.reduce((a, e) => a + (e.extraRows ?? 0), 0),
    violations,
  };
}
