// The job contract is defined once (src/worker/job.ts); the Python worker checks jobs against the
// JSON Schema generated from it. These fail when the two drift apart.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { JOB_SCHEMA_FILE, jobSchemaText } from "../scripts/gen-job-schema.js";
import { jobFor } from "../src/passes/job-file.js";
import { resolveRunConfig } from "../src/config/run-options.js";
import { planPasses } from "../src/passes/plan.js";
import { workerJob } from "../src/worker/job.js";

test("python/moe_prof/worker/job.schema.json is what src/worker/job.ts generates", () => {
  assert.equal(
    readFileSync(JOB_SCHEMA_FILE, "utf8"),
    jobSchemaText(),
    "stale: run node dist/scripts/gen-job-schema.js",
  );
});

test("the job a run writes passes the schema, with --layers as a list and --engine-args as an object", () => {
  const cfg = resolveRunConfig(
    { layers: "0,5-7", engineArgs: '{"max_num_seqs": 8}' },
    { python: "python3", now: new Date(0) },
  );
  const [noLog, log] = planPasses(1, "/tmp/work");
  const job = jobFor(cfg, log!, ["q1", "q2"]);
  assert.deepEqual(job.layers, [0, 5, 6, 7]);
  assert.deepEqual(job.engine_args, { max_num_seqs: 8 });
  assert.equal(job.routes_path, "/tmp/work/moe_routes.jsonl");
  assert.equal(jobFor(cfg, noLog!, ["q1"]).routes_path, null);
  assert.equal(workerJob.safeParse({ ...job, extra: 1 }).success, false); // strict: no unknown fields
});

test("--device cpu is for the hf engine; --engine-args must be a JSON object", () => {
  const now = new Date(0);
  assert.throws(() => resolveRunConfig({ device: "cpu" }, { python: "p", now }), /--device: cpu needs --engine hf/);
  assert.throws(
    () => resolveRunConfig({ engineArgs: "[1]" }, { python: "p", now }),
    /--engine-args: expected a JSON object/,
  );
  assert.throws(() => resolveRunConfig({ engineArgs: "{x" }, { python: "p", now }), /--engine-args: not JSON/);
  assert.throws(
    () => resolveRunConfig({ engine: "hf", engineArgs: "{}" }, { python: "p", now }),
    /--engine-args: is for --engine vllm/,
  );
});
