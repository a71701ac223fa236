// Worker thread: scans one byte range of a log and returns its coverage and tally as plain data.
import { parentPort, workerData } from "node:worker_threads";
import { scanRouteRange } from "./scan.js";
import { RouteTally } from "../analysis/tally.js";
import type { RangeJob, RangeOutcome } from "./analyse-routes.js";

const job = workerData as RangeJob;
const tally = job.tally ? new RouteTally(job.selected, job.meta.num_experts, job.meta.layers_logged) : null;
const r = await scanRouteRange(job.file, job.meta, job.range, tally ? (row, req, li) => tally.add(row, req, li) : undefined);
const outcome: RangeOutcome = { ok: r.ok, rows: r.rows, lines: r.lines, coverage: r.acceptor.coverage.exportState(), tally: tally?.exportState() ?? null };
parentPort!.postMessage(outcome);
