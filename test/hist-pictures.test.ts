// hist's pictures drawn at once (p-limit, PNG encoding on libuv's threads) are the same bytes, in
// the same order, as drawn one at a time.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { ROOT } from "./helpers.js";
import { analyseRoutesFile } from "../src/log-scan/analyse-routes.js";
import {
  histPictureFiles,
  PICTURE_CONCURRENCY,
  HIST_PNG,
  HEATMAP_PNG,
  TRANSITIONS_PNG,
} from "../src/render/hist-pictures.js";

test("pictures drawn at once equal pictures drawn one at a time", async () => {
  const { summary } = await analyseRoutesFile(path.join(ROOT, "fixtures/recorded/hf-smoke-h100/moe_routes.jsonl"));
  const one = await histPictureFiles(summary, 1);
  const all = await histPictureFiles(summary, 3);
  assert.deepEqual(
    one.map((f) => f.name),
    [HIST_PNG, HEATMAP_PNG, TRANSITIONS_PNG],
  );
  assert.deepEqual(
    all.map((f) => f.name),
    [HIST_PNG, HEATMAP_PNG, TRANSITIONS_PNG],
  );
  for (let i = 0; i < one.length; i++) {
    assert.equal(one[i]!.data.subarray(1, 4).toString(), "PNG");
    assert.ok(one[i]!.data.equals(all[i]!.data), one[i]!.name);
  }
  assert.ok(PICTURE_CONCURRENCY >= 1 && PICTURE_CONCURRENCY <= 3);
});
