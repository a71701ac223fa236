// place says where its scores are in-sample: the plans are scored on the log they were made from.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { execa } from "execa";
import { runPlace } from "../src/commands/place/index.js";
import { placementSpec } from "../src/render/placement-spec.js";
import { CLI, FIXTURES, tempDir } from "./helpers.js";

const FULL = path.join(FIXTURES, "full-schema.jsonl");

test("place's summary and placement.png say the scores are in-sample", async () => {
  const r = await execa(process.execPath, [CLI, "place", FULL, "--gpus", "2", "--out", tempDir()], { reject: false });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout.split("\n")[1]!, /in-sample \(scored on the log the plans were made from\):$/);
  const { report } = await runPlace(FULL, { gpus: "2" });
  const spec = placementSpec(report) as unknown as { title: { subtitle: string[] } };
  assert.ok(
    spec.title.subtitle.some((l) => l.startsWith("in-sample: every plan is scored on the log it was made from")),
  );
});
