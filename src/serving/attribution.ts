// Which rows of a routes log belong to which HTTP request of a `serve` load, and whether each
// completed request has exactly the rows its tokens say (the conservation rule of `run`).
//
// vLLM's OpenAI server names requests twice (read in vLLM 0.20.2's and 0.15.1's sources):
//   completions (entrypoints/openai/completion/serving.py): request_id = "cmpl-" + base, where
//     base = the X-Request-Id header, else the body's request_id, else random_uuid() (16 hex);
//     the response (every streamed chunk's `id`) is request_id; the engine gets
//     request_id + "-" + i for the i-th prompt of the request (one prompt: "-0").
//   chat (chat_completion/serving.py): request_id = "chatcmpl-" + base; the response id and the
//     engine's id are both request_id (one conversation; several prompts would get "_" + i).
//   the engine (v1/engine/input_processor.py assign_request_id) then appends "-" + 8 random hex
//     characters, and moe-prof's capture logs that id with its last "-" part removed
//     (python/moe_prof/capture/segments.py user_request_id).
// So the log's req_id is "<response id>-0" for a completion and "<response id>" for a chat
// completion. (n > 1 would add "<i>_" in front of each child's id; the load sends n = 1.)
import { checkConservation, type ExpectedRequest, type LoggedRequestRows } from "../analysis/conservation.js";
import type { Endpoint, RequestRecord } from "./stream-request.js";

export function loggedRequestId(endpoint: Endpoint, responseId: string): string {
  return endpoint === "completions" ? `${responseId}-0` : responseId;
}

export interface Attribution {
  ok: boolean;
  /** Completed HTTP requests whose rows were found and conserved. */
  complete: number;
  /** Disconnected requests (on purpose, or at the time limit): rows up to the disconnect, never complete. */
  aborted: Array<{ response_id: string | null; req_id: string | null; rows_per_layer: number | null }>;
  /** `serve --toggle-capture`: requests sent while the capture was paused, found without a row. */
  paused: number;
  /** Requests of a paused block that the client disconnected yet have rows: the engine ends such a
   * request only when the disconnect reaches it, which may be after the capture was switched on
   * again; listed, not a violation. */
  paused_disconnected_with_rows: Array<{ response_id: string; req_id: string; rows_per_layer: number }>;
  /** Rows under ids no request of this pass was answered with. */
  unattributed: string[];
  violations: string[];
}

/** `requests`: every request of one log pass (warm-up included) sent while the capture was on, in
 * any order; `sentWhilePaused`: those sent while it was paused (`serve --toggle-capture`), which
 * must have no row. */
export function attributeRows(
  endpoint: Endpoint,
  requests: readonly RequestRecord[],
  logged: readonly LoggedRequestRows[],
  layers: number[],
  sentWhilePaused: readonly RequestRecord[] = [],
): Attribution {
  const byId = new Map(logged.map((r) => [r.req_id, r]));
  const claimed = new Set<string>();
  const violations: string[] = [];
  const aborted: Attribution["aborted"] = [];
  let complete = 0;
  let paused = 0;
  const late: Attribution["paused_disconnected_with_rows"] = [];
  for (const r of sentWhilePaused) {
    if (r.response_id === null) continue; // never answered: nothing to look up
    const id = loggedRequestId(endpoint, r.response_id);
    claimed.add(id);
    const rows = byId.get(id);
    if (rows === undefined) paused++;
    else if (r.status === "aborted" || r.status === "cut")
      late.push({ response_id: r.response_id, req_id: id, rows_per_layer: rows.rows_per_layer[0] ?? 0 });
    else
      violations.push(
        `request ${r.response_id} (log req_id ${id}) was sent while the capture was paused, yet has ${rows.rows_per_layer[0] ?? 0} rows in layer ${layers[0]}`,
      );
  }
  for (const r of requests) {
    const id = r.response_id === null ? null : loggedRequestId(endpoint, r.response_id);
    const rows = id === null ? undefined : byId.get(id);
    if (id !== null) claimed.add(id);
    if (r.status === "aborted" || r.status === "cut")
      aborted.push({ response_id: r.response_id, req_id: id, rows_per_layer: rows?.rows_per_layer[0] ?? null });
    if (r.status !== "ok") continue;
    if (r.prompt_tokens === null) {
      violations.push(`request ${r.response_id}: the server sent no usage (prompt tokens unknown), rows not checked`);
      continue;
    }
    const e: ExpectedRequest = {
      promptTokens: r.prompt_tokens,
      outputTokens: r.output_tokens,
      cachedTokens: r.cached_tokens ?? 0,
    };
    // A request that stopped before max_tokens may have one row computed after its stop (vLLM's
    // async scheduling, analysis/conservation.ts); whether the server schedules that way is not
    // visible over HTTP, so such a request may have either count.
    if (r.finish_reason === "stop" && rows?.max_token_idx === e.promptTokens + e.outputTokens - 1) e.extraRows = 1;
    // checkConservation names requests by position: this one is "0"
    const c = checkConservation([e], rows ? [{ ...rows, req_id: "0" }] : [], layers);
    if (c.ok) complete++;
    else
      for (const v of c.violations)
        violations.push(v.replace(/^request 0/, `request ${r.response_id} (log req_id ${id})`));
  }
  const unattributed = logged.filter((r) => !claimed.has(r.req_id)).map((r) => r.req_id);
  if (unattributed.length)
    violations.push(
      `${unattributed.length} request id(s) in the log match no request of this pass, e.g. ${unattributed.slice(0, 3).join(", ")}`,
    );
  return {
    ok: violations.length === 0,
    complete,
    paused,
    paused_disconnected_with_rows: late,
    aborted,
    unattributed,
    violations,
  };
}
