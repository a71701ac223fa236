// Logs of a vLLM engine with prefix caching: the meta line says so, rows start at each request's
// first computed position, and hist/validate read that as intended.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { CLI, META, route, tempDir, writeLog, readJson } from "./helpers.js";

const lines = (prefix: unknown) => [
  JSON.stringify({ ...META, num_experts: 4, prefix_caching: prefix }),
  ...[16, 17].flatMap((t) => [0, 3].map((l) => JSON.stringify(route("0", t, l, [t % 4, (t + 1) % 4])))),
];

test("prefix_caching true: valid, and hist's summary and text say what it means", () => {
  const log = writeLog(lines(true));
  assert.equal(spawnSync(process.execPath, [CLI, "validate", log]).status, 0);
  const out = tempDir();
  const r = spawnSync(process.execPath, [CLI, "hist", log, "--out", out], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /prefix caching was on: prompt positions served from the cache have no rows/);
  const s = readJson(path.join(out, "summary.json")) as {
    prefix_caching: boolean;
    notes: string[];
    per_request: { min_token_idx: number }[];
  };
  assert.equal(s.prefix_caching, true);
  assert.equal(s.per_request[0]!.min_token_idx, 16);
  assert.ok(s.notes.some((n) => n.startsWith("prefix caching was on")));
});

test("prefix_caching must be a boolean", () => {
  const r = spawnSync(process.execPath, [CLI, "validate", writeLog(lines("yes"))], { encoding: "utf8" });
  assert.equal(r.status, 1);
  assert.match(r.stderr.trim(), /:1: prefix_caching: must be true or false$/);
});
