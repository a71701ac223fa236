// What one load level measured, as serving.json and the latency picture report it. Latencies are
// over completed requests only (an aborted or cut request's timings describe the disconnect, not
// the server); counts say how many of each there were.
import { distribution, type Distribution } from "./percentiles.js";
import type { LoadRun } from "./load.js";
import type { RequestStatus } from "./stream-request.js";

export interface LoadSummary {
  complete: boolean;
  stopped_by: LoadRun["stopped_by"];
  requests: Record<RequestStatus | "not_sent", number> & { planned: number };
  /** Of the completed requests: output tokens read from `usage`, or counted as token chunks. */
  output_tokens_from: { usage: number; chunks: number };
  output_tokens: number;
  wall_s: number;
  /** Output tokens of completed requests / wall time. */
  output_tokens_per_s: number;
  /** Completed requests / wall time. */
  requests_per_s: number;
  ttft_s: Distribution;
  /** Every gap between consecutive token chunks of every completed request, pooled. */
  itl_s: Distribution;
  /** Per completed request with >= 2 tokens: (e2e - ttft) / (output tokens - 1). */
  tpot_s: Distribution;
  e2e_s: Distribution;
}

export function summariseLoad(run: LoadRun, planned: number): LoadSummary {
  const count = (s: RequestStatus) => run.records.filter((r) => r.status === s).length;
  const ok = run.records.filter((r) => r.status === "ok");
  const tokens = ok.reduce((a, r) => a + r.output_tokens, 0);
  const requests = {
    planned,
    ok: count("ok"),
    aborted: count("aborted"),
    cut: count("cut"),
    failed: count("failed"),
    not_sent: run.not_sent,
  };
  return {
    // every planned request was sent and ended as the load meant it to (answered, or disconnected by us)
    complete: run.stopped_by === "count" && requests.ok + requests.aborted === planned,
    stopped_by: run.stopped_by,
    requests,
    output_tokens_from: {
      usage: ok.filter((r) => r.tokens_from === "usage").length,
      chunks: ok.filter((r) => r.tokens_from === "chunks").length,
    },
    output_tokens: tokens,
    wall_s: run.wall_s,
    output_tokens_per_s: run.wall_s > 0 ? tokens / run.wall_s : 0,
    requests_per_s: run.wall_s > 0 ? ok.length / run.wall_s : 0,
    ttft_s: distribution(ok.map((r) => r.ttft_s).filter((x): x is number => x !== null)),
    itl_s: distribution(ok.flatMap((r) => r.itl_s)),
    tpot_s: distribution(
      ok
        .filter((r) => r.output_tokens >= 2 && r.ttft_s !== null)
        .map((r) => (r.e2e_s! - r.ttft_s!) / (r.output_tokens - 1)),
    ),
    e2e_s: distribution(ok.map((r) => r.e2e_s!)),
  };
}
