// Pausing and resuming a live server's capture, so that one log server can alternate blocks of
// requests with the capture on and paused (`serve --toggle-capture`): the comparison then has no
// server-to-server spread in it. The switch is the patch's Worker.moe_prof_control, reached through
// vLLM's POST /collective_rpc (served only with VLLM_SERVER_DEV_MODE=1; the same route in 0.15.1 and
// 0.20.2, entrypoints/serve/rpc/api_router.py). The call runs in the engine core between steps
// (the same thread that runs them): the load waits for every request of a block to end before
// switching, and a completed request's last step, async scheduling's extra one included, was
// handed to the capture before its last chunk was streamed, so no completed request is half logged.
import { request } from "undici";
import { UserError, EXIT_INVALID } from "../errors.js";
import { localOrigin } from "./local-url.js";

export type CaptureState = "on" | "paused";

/** The environment variable that makes vLLM's server expose /collective_rpc. */
export const DEV_MODE_ENV = "VLLM_SERVER_DEV_MODE";

const ACTION: Record<CaptureState, string> = { on: "resume", paused: "pause" };

/** Switches the capture of the server at `url` and checks that every rank that writes says so. */
export async function setCapture(url: string, state: CaptureState, timeoutMs = 30_000): Promise<void> {
  const what = `switching the capture ${state === "on" ? "on" : "to paused"} (POST ${url}/collective_rpc moe_prof_control ${ACTION[state]})`;
  let status: number;
  let text: string;
  try {
    const res = await request(`${localOrigin(url)}/collective_rpc`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ method: "moe_prof_control", args: [ACTION[state]] }),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    status = res.statusCode;
    text = await res.body.text();
  } catch (err) {
    throw new UserError(`${what}: ${(err as Error).message}`, EXIT_INVALID);
  }
  if (status === 404)
    throw new UserError(
      `${what}: the server has no /collective_rpc (vLLM serves it only with ${DEV_MODE_ENV}=1, which serve sets)`,
      EXIT_INVALID,
    );
  if (status !== 200) throw new UserError(`${what}: HTTP ${status}: ${text.slice(0, 300)}`, EXIT_INVALID);
  const problem = answerProblem(text, state);
  if (problem) throw new UserError(`${what}: ${problem}`, EXIT_INVALID);
}

/** What is wrong with /collective_rpc's answer `{"results": [per rank]}`, or null. A rank that does
 * not write answers {"active": false}; at least one must write, and every writer must be switched. */
export function answerProblem(text: string, state: CaptureState): string | null {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return `not JSON: ${text.slice(0, 200)}`;
  }
  const results = typeof body === "object" && body !== null ? (body as { results?: unknown }).results : undefined;
  if (!Array.isArray(results)) return `no "results" list in ${text.slice(0, 200)}`;
  const writers = results.filter(
    (r): r is { paused?: unknown } =>
      typeof r === "object" && r !== null && (r as { active?: unknown }).active === true,
  );
  if (writers.length === 0) {
    const reason = (results[0] as { disabled_reason?: unknown } | undefined)?.disabled_reason;
    return `no rank is logging${typeof reason === "string" ? ` (${reason})` : ""}: ${text.slice(0, 200)}`;
  }
  if (writers.some((r) => r.paused !== (state === "paused")))
    return `a rank reports paused=${String(writers.find((r) => r.paused !== (state === "paused"))?.paused)}`;
  return null;
}
