// cache simulates its layers on worker threads (src/commands/cache/layer-pool.ts): the report must
// be the one-thread report, for both access orders, on seeded random logs with 1-3 threads.
import { test } from "node:test";
import assert from "node:assert/strict";
import { META, route, writeLog } from "./helpers.js";
import { mulberry32 } from "../src/random.js";
import { runCache } from "../src/commands/cache/index.js";

function randomLog(seed: number): string {
  const rnd = mulberry32(seed);
  const layers = [0, 2, 3, 5, 7];
  const lines = [JSON.stringify({ ...META, layers_logged: layers, top_k: 2, num_experts: 9 })];
  let step = 0;
  for (let r = 0; r < 6; r++) {
    const T = 1 + Math.floor(rnd() * 20);
    for (let t = 0; t < T; t++) {
      step += 1 + Math.floor(rnd() * 3);
      for (const layer of layers) {
        const a = Math.floor(rnd() * 9);
        const b = (a + 1 + Math.floor(rnd() * 8)) % 9;
        lines.push(JSON.stringify(route(`q${r}`, t, layer, [a, b], [0.7, 0.3], { step })));
      }
    }
  }
  return writeLog(lines);
}

test("cache on 1, 2 and 3 threads gives the same report (request and step order)", async () => {
  for (const seed of [1, 2, 3]) {
    const log = randomLog(seed);
    for (const order of ["request", "step"]) {
      const reports = [];
      for (const threads of ["1", "2", "3"]) {
        process.env.MOE_PROF_THREADS = threads;
        reports.push(await runCache(log, { order }));
      }
      delete process.env.MOE_PROF_THREADS;
      assert.ok(reports[0]!.accesses > 0);
      assert.deepEqual(reports[1], reports[0], `seed ${seed}, ${order}, 2 threads`);
      assert.deepEqual(reports[2], reports[0], `seed ${seed}, ${order}, 3 threads`);
    }
  }
});
