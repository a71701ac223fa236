import { test } from "node:test";
import assert from "node:assert/strict";
import { parseLayerList } from "../src/config/layer-list.js";

test("--layers lists and ranges", () => {
  assert.deepEqual(parseLayerList("0,5-7"), [0, 5, 6, 7]);
  assert.deepEqual(parseLayerList(" 3 , 1-2,2"), [1, 2, 3]);
  for (const bad of ["", "a", "1-", "-1", "3-1", "1.5", "0-1000000"]) {
    assert.throws(
      () => parseLayerList(bad),
      (e: Error & { exitCode?: number }) => e.exitCode === 2 && e.message.startsWith("--layers:"),
      bad,
    );
  }
});
