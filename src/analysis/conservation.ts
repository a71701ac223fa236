// Conservation: every logged layer holds exactly the token rows the engine computed per request.
// A request of P prompt tokens that generated G tokens is computed as P + G - 1 rows, at positions
// 0 .. P+G-2 (the last sampled token is never fed back; prefix caching is off in `moe-prof run`).
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
}

export interface ConservationResult {
  ok: boolean;
  requests_checked: number;
  layers_checked: number;
  expected_rows_per_layer: number;
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
    const want = e.promptTokens + e.outputTokens - 1;
    const got = byReq.get(String(i));
    const pg = `P=${e.promptTokens}, G=${e.outputTokens}`;
    if (!got) return note(`request ${i}: no rows in the log, expected ${want} per layer (${pg})`);
    got.rows_per_layer.forEach((n, li) => {
      if (n !== want) note(`request ${i}, layer ${layers[li]}: ${n} rows, expected ${want} (${pg})`);
    });
    if (got.min_token_idx !== 0 || got.max_token_idx !== want - 1)
      note(`request ${i}: token_idx ${got.min_token_idx}..${got.max_token_idx}, expected 0..${want - 1} (${pg})`);
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
    expected_rows_per_layer: expected.reduce((a, e) => a + e.promptTokens + e.outputTokens - 1, 0),
    violations,
  };
}
