// Worker thread: scans one byte range of a log (row groups of a Parquet log) and returns its coverage and tally as plain data.
import { parentPort, workerData } from "node:worker_threads";
import { scanRouteRange } from "../routes/scan-rows.js";
import { scanParquetRange } from "../routes/parquet-range.js";
import { RouteTally } from "../analysis/tally.js";
import { hasWeights } from "../routes/weights.js";
import type { RangeJob, RangeOutcome } from "./analyse-routes.js";
import type { CheckedRoute } from "../routes/route-check.js";

// The job comes as workerData, or (a worker started early, range-worker-start.ts) as a message.
async function run(job: RangeJob): Promise<void> {
  const tally = job.tally
    ? new RouteTally(job.selected, job.meta.num_experts, job.meta.layers_logged, true, hasWeights(job.meta))
    : null;
  const onRow = tally ? (row: CheckedRoute, req: number, li: number) => tally.add(row, req, li) : undefined;
  const r = job.parquet
    ? await scanParquetRange(job.file, job.meta, job.range, onRow)
    : await scanRouteRange(job.file, job.meta, job.range, onRow);
  const outcome: RangeOutcome = {
    ok: r.ok,
    rows: r.rows,
    lines: r.lines,
    coverage: r.acceptor.coverage.exportState(),
    tally: tally?.exportState() ?? null,
  };
  parentPort!.postMessage(outcome);
  parentPort!.close();
}

if (workerData) await run(workerData as RangeJob);
else parentPort!.once("message", (job: RangeJob) => void run(job));
