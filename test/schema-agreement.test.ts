// The log schema lives once in zod (src/routes/schema.ts); the Python side writes it
// (python/moe_prof/capture/jsonl.py through the writer process). This checks that what the real
// Python writer produces is accepted by the TypeScript validator, including the whole-file rules.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { validateRoutesFile } from "../src/log-scan/validate-file.js";
import { packageRoot } from "../src/config/package-info.js";

const WRITE = `
import sys
import numpy as np
from moe_prof.capture import Segment
from moe_prof.capture.jsonl import format_meta, SCHEMA_VERSION
from moe_prof.capture.writer_client import WriterClient

out, K, E, layers = sys.argv[1], 4, 60, [0, 5, 7]
# the meta the vLLM glue writes (python/moe_prof/vllm_glue.py) plus what RouteCapture adds
meta = {"model_id": "m", "vllm_version": "0.15.1", "torch_version": "2.9.1", "device": "d", "seed": 0,
        "num_experts": E, "engine": "vllm", "schema_version": SCHEMA_VERSION, "layers_logged": layers, "top_k": K}
rng = np.random.default_rng(7)
def arrays(n):
    ids = np.stack([np.stack([rng.permutation(E)[:K] for _ in layers]) for _ in range(n)]).astype(np.int32)
    w = rng.random((n, len(layers), K), dtype=np.float32)
    return ids, w, rng.integers(0, 1000, size=n, dtype=np.int64)
w = WriterClient(out, format_meta(meta))
w.send_step(0, [Segment("0", 0, 5, "prefill"), Segment("1", 0, 3, "prefill")], layers, *arrays(8))
for step in range(1, 4):
    w.send_step(step, [Segment("0", 4 + step, 1, "decode"), Segment("1", 2 + step, 1, "decode")], layers, *arrays(2))
print(w.close())
`;

test("the Python capture writer's output passes the zod schema and the whole-file rules", async () => {
  const out = path.join(mkdtempSync(path.join(os.tmpdir(), "moe-prof-agree-")), "moe_routes.jsonl");
  const written = execFileSync("python3", ["-c", WRITE, out], {
    env: { ...process.env, PYTHONPATH: path.join(packageRoot(), "python") },
    encoding: "utf8",
  }).trim();
  assert.equal(written, out);
  const report = await validateRoutesFile(out, { allErrors: true });
  assert.deepEqual(report.errors, []);
  assert.equal(report.valid, true);
  assert.equal(report.scan.rows, (8 + 2 * 3) * 3);
});
