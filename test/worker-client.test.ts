// The TypeScript worker client against the real Python worker, and the protocol schema against
// transcripts recorded on an H100 (fixtures/recorded/hf-smoke-h100).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { runWorker } from "../src/worker/run-worker.js";
import { parseWorkerLine, type WorkerMessage } from "../src/worker/protocol.js";
import { packageRoot } from "../src/config/package-info.js";
import { resolveRunConfig } from "../src/config/run-options.js";
import { jobFor } from "../src/passes/job-file.js";
import { planPasses } from "../src/passes/plan.js";
import { UserError } from "../src/errors.js";

const recorded = path.join(packageRoot(), "fixtures", "recorded", "hf-smoke-h100");

test("every message recorded from the H100 run passes the protocol schema", () => {
  for (const pass of ["no_log", "log"]) {
    const lines = readFileSync(path.join(recorded, `worker-${pass}-1.protocol.jsonl`), "utf8")
      .trim()
      .split("\n");
    const types = lines.map((l) => {
      const r = parseWorkerLine(l);
      assert.ok(r.ok, `${pass}: ${!r.ok && r.error}`);
      return r.msg.type;
    });
    assert.deepEqual(types.slice(0, 4), ["hello", "phase", "ready", "phase"]);
    assert.equal(types.at(-1), "result");
    assert.equal(types.filter((t) => t === "progress").length, 4);
  }
});

test("bad protocol lines are named, not thrown", () => {
  assert.deepEqual(parseWorkerLine("not json"), { ok: false, error: "not JSON: not json" });
  const r = parseWorkerLine('{"type":"progress","done":1}');
  assert.equal(r.ok, false);
  assert.match((r as { error: string }).error, /^total: /);
  const u = parseWorkerLine('{"type":"telemetry"}');
  assert.equal(u.ok, false);
});

test("a worker that fails reports one line through the protocol; the traceback goes to its log", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "moe-prof-worker-"));
  const job = path.join(dir, "job.json");
  // engine hf on a machine without torch/GPU: the real worker gets as far as loading the engine.
  const cfg = resolveRunConfig(
    {
      engine: "hf",
      randomWeights: true,
      config: path.join(packageRoot(), "fixtures/models/qwen1.5-moe-a2.7b"),
      maxTokens: "2",
    },
    { python: "python3", now: new Date(0) },
  );
  writeFileSync(job, JSON.stringify(jobFor(cfg, planPasses(1, dir)[0]!, ["q"])));
  const seen: WorkerMessage["type"][] = [];
  const stderrPath = path.join(dir, "worker.log");
  await assert.rejects(
    runWorker({ python: "python3", jobPath: job, stderrPath, label: "no-log", onMessage: (m) => seen.push(m.type) }),
    (e: unknown) =>
      e instanceof UserError && e.exitCode === 1 && /^no-log pass failed: .+ \(see .*worker\.log\)$/.test(e.message),
  );
  assert.deepEqual(seen.slice(0, 2), ["hello", "phase"]);
  assert.equal(seen.at(-1), "error");
  assert.match(readFileSync(stderrPath, "utf8"), /Traceback/);
});

test("a missing interpreter is an error naming it", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "moe-prof-worker-"));
  await assert.rejects(
    runWorker({ python: path.join(dir, "no-python"), jobPath: "j", stderrPath: path.join(dir, "l"), label: "log" }),
    (e: unknown) =>
      e instanceof UserError &&
      e.exitCode === 2 &&
      e.message === `Python not found: ${path.join(dir, "no-python")} (pass --python PATH)`,
  );
});

test("a worker that hangs after reporting its result is ended after the grace time; the result stands", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "moe-prof-worker-"));
  const job = path.join(dir, "job.json");
  writeFileSync(job, JSON.stringify({ pass_name: "log", routes_path: path.join(dir, "moe_routes.jsonl") }));
  const t0 = Date.now();
  const out = await runWorker({
    python: path.join(packageRoot(), "test", "stand-ins", "replay-python"),
    jobPath: job,
    stderrPath: path.join(dir, "w.log"),
    label: "log",
    exitGraceMs: 300,
    env: { MOE_PROF_REPLAY_DIR: recorded, MOE_PROF_REPLAY_FAULT: "linger:0" },
  });
  assert.equal(out.result.routes?.path, path.join(dir, "moe_routes.jsonl"));
  assert.ok(Date.now() - t0 < 20_000, "waited for the hung worker instead of ending it");
});

test("a pass is not started once the run was interrupted", async () => {
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(
    runWorker({ python: "python3", jobPath: "j", stderrPath: "/dev/null", label: "log", signal: ac.signal }),
    (e: unknown) => e instanceof UserError && e.exitCode === 130 && e.message === "interrupted before the log pass",
  );
});
