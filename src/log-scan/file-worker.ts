// Worker thread of file-lanes.ts: scans whole files of a log set, one job at a time, for as long
// as the lanes have files for it.
import { parentPort } from "node:worker_threads";
import { runFileJob, type FileJob } from "./file-part.js";

parentPort!.on("message", (job: FileJob) => {
  runFileJob(job).then(
    (part) => parentPort!.postMessage({ part }),
    (e: unknown) => parentPort!.postMessage({ crash: e instanceof Error ? (e.stack ?? e.message) : String(e) }),
  );
});
