// Worker thread of layer-pool.ts: simulates the layers it is sent, one at a time.
import { parentPort } from "node:worker_threads";
import { simulateLayer, type LayerJob } from "../../analysis/cache-layer.js";

parentPort!.on("message", (job: LayerJob) => parentPort!.postMessage(simulateLayer(job)));
