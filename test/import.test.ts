// moe-prof import: vLLM's routed_experts (numpy) and SGLang's per_token dumps (torch) into routes
// logs without weights; the rows and the counts of hist are held to the arrays themselves, and the
// analyses that need a row's top-1 say so.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { CLI, META, route, tempDir, venvPython, writeLog } from "./helpers.js";

const PYTHON = "python3";

/** Writes routed.npz (3 requests, 4 layers of which 0 is dense, top-2 of 8) and returns the arrays. */
function routedNpz(dir: string): Record<string, number[][][]> {
  const code = `
import json, sys
import numpy as np
rng = np.random.default_rng(11)
reqs = {}
for rid, n in (("a", 6), ("b", 3), ("c", 9)):
    arr = np.zeros((n, 4, 2), dtype=np.int32)
    for p in range(n):
        for layer in (1, 2, 3):
            arr[p, layer] = rng.permutation(8)[:2]
    reqs[rid] = arr
np.savez(sys.argv[1], **reqs)
print(json.dumps({k: v.tolist() for k, v in reqs.items()}))
`;
  return JSON.parse(execFileSync(PYTHON, ["-c", code, path.join(dir, "routed.npz")], { encoding: "utf8" })) as Record<
    string,
    number[][][]
  >;
}

interface Line {
  type: string;
  req_id: string;
  token_idx: number;
  layer: number;
  topk_ids: number[];
  topk_weights?: number[];
  [k: string]: unknown;
}

test("vllm-routed-experts: every MoE layer's ids, position by position; hist counts them; top-1 figures left out", async () => {
  const dir = tempDir();
  const arrays = routedNpz(dir);
  const out = path.join(dir, "imported", "moe_routes.jsonl");
  const r = await execa(
    process.execPath,
    [
      CLI,
      "import",
      "--from",
      "vllm-routed-experts",
      path.join(dir, "routed.npz"),
      "-o",
      out,
      "--model-id",
      "test/m",
      "--num-experts",
      "8",
      "--python",
      PYTHON,
    ],
    { reject: false },
  );
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(
    r.stdout,
    /^wrote .*moe_routes\.jsonl: 54 route rows, 3 requests, 3 layers \(1,2,3\) of 4, top-2, 8 experts; imported from vllm-routed-experts\n/,
  );
  const [meta, ...rows] = readFileSync(out, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Line);
  assert.equal(meta!.weights_logged, false);
  assert.equal(meta!.num_layers, 4);
  const want = new Map<string, number[]>();
  for (const [rid, arr] of Object.entries(arrays))
    arr.forEach((pos, p) => [1, 2, 3].forEach((layer) => want.set(`${rid}/${p}/${layer}`, pos[layer]!)));
  assert.equal(rows.length, want.size);
  for (const row of rows) {
    assert.deepEqual(row.topk_ids, want.get(`${row.req_id}/${row.token_idx}/${row.layer}`));
    assert.equal(row.topk_weights, undefined);
  }

  const hist = await execa(process.execPath, [CLI, "hist", out, "--json", "--out", tempDir()], { reject: false });
  assert.equal(hist.exitCode, 0, hist.stderr);
  const s = JSON.parse(hist.stdout) as {
    weights_logged: boolean;
    layers: { layer: number; counts: number[] }[];
    layer_transitions: unknown;
    overall: { top1_repetition: { rate: number | null } };
    notes: string[];
  };
  assert.equal(s.weights_logged, false);
  for (const l of s.layers) {
    const counts = new Array<number>(8).fill(0);
    for (const arr of Object.values(arrays)) for (const pos of arr) for (const e of pos[l.layer]!) counts[e]!++;
    assert.deepEqual(l.counts, counts, `layer ${l.layer}`);
  }
  assert.equal(s.layer_transitions, null);
  assert.equal(s.overall.top1_repetition.rate, null);
  assert.ok(
    s.notes.some((n) =>
      n.startsWith(
        "the log has no topk_weights (imported from vllm-routed-experts), so a row's top-1 expert is unknown",
      ),
    ),
  );

  const place = await execa(process.execPath, [CLI, "place", out, "--gpus", "2", "--json", "--out", tempDir()], {
    reject: false,
  });
  assert.equal(place.exitCode, 0, place.stderr);
  const p = JSON.parse(place.stdout) as {
    policies: { balanced: { top1_gpu_share: number | null; max_over_mean: number }[] };
  };
  assert.equal(p.policies.balanced[0]!.top1_gpu_share, null);
  assert.ok(p.policies.balanced[0]!.max_over_mean >= 1);

  const req = await execa(process.execPath, [CLI, "hist", out, "--request", "a", "--out", tempDir()], {
    reject: false,
  });
  assert.equal(req.exitCode, 2);
  assert.match(
    req.stderr,
    /^moe-prof: --request: the log has no topk_weights \(imported from vllm-routed-experts\), so a row's top-1 expert is unknown/,
  );
});

test("import refuses what is not routes in one line, exit 1; nothing is written", async () => {
  const dir = tempDir();
  const bad = path.join(dir, "counts.npy");
  execFileSync(PYTHON, ["-c", "import sys, numpy as np; np.save(sys.argv[1], np.zeros((3, 8), dtype=np.int32))", bad]);
  const out = path.join(dir, "o.jsonl");
  const r = await execa(
    process.execPath,
    [CLI, "import", "--from", "vllm-routed-experts", bad, "-o", out, "--python", PYTHON],
    {
      reject: false,
    },
  );
  assert.equal(r.exitCode, 1);
  assert.equal(
    r.stderr,
    `moe-prof: ${bad}: shape [3, 8]: expected 3 axes [positions, layers, top_k] (vLLM's routed_experts)`,
  );
  assert.throws(() => readFileSync(out));
  const unknown = await execa(process.execPath, [CLI, "import", "--from", "tgi", bad, "-o", out], { reject: false });
  assert.equal(unknown.exitCode, 2);
  assert.match(unknown.stderr, /--from: unknown "tgi" \(expected sglang or vllm-routed-experts\)/);
});

test("sglang: a per_token dump written by torch imports; a stat dump is refused (needs torch: the venv's Python)", async (t) => {
  const py = venvPython();
  if (py === null) return t.skip("no venv Python with torch (MOE_PROF_TEST_PYTHON)");
  const dir = tempDir();
  const code = `
import sys, torch
L, E, K = 3, 4, 2
ids = torch.full((L, 3, 8), -1, dtype=torch.int32)
ids[1, :, :K] = torch.tensor([[0, 1], [2, 3], [1, 2]])
ids[2, :, :K] = torch.tensor([[3, 0], [0, 2], [4, 1]])
rec = dict(forward_pass_id=7, rank=0, gatherer_key="primary", input_ids=[5, 6, 7], positions=[0, 1, 2],
           extend_seq_lens=[3], forward_mode=1, topk_ids_of_layer=ids, misc_objects=[],
           global_physical_count=torch.zeros((L, E + 1), dtype=torch.int32))
p2l = torch.tensor([[0, 1, 2, 3, 0]] * L)
torch.save({"records": [rec], "last_physical_to_logical_map": p2l}, sys.argv[1] + "/per_token.pt")
torch.save({"rank": 0, "logical_count": torch.zeros((2, L, E)), "average_utilization_rate_over_window": None},
           sys.argv[1] + "/stat.pt")
`;
  execFileSync(py, ["-c", code, dir]);
  const out = path.join(dir, "s.jsonl");
  const r = await execa(
    process.execPath,
    [CLI, "import", "--from", "sglang", path.join(dir, "per_token.pt"), "-o", out, "--python", py],
    {
      reject: false,
    },
  );
  assert.equal(r.exitCode, 0, r.stderr);
  const rows = readFileSync(out, "utf8")
    .trim()
    .split("\n")
    .slice(1)
    .map((l) => JSON.parse(l) as Line);
  // physical 4 is a replica of logical 0 (the map); req_id "<pass>:<sequence>"
  assert.deepEqual(
    rows.map((x) => [x.req_id, x.token_idx, x.layer, x.topk_ids, x.step, x.phase, x.token_id]),
    [
      ["7:0", 0, 1, [0, 1], 7, "prefill", 5],
      ["7:0", 0, 2, [3, 0], 7, "prefill", 5],
      ["7:0", 1, 1, [2, 3], 7, "prefill", 6],
      ["7:0", 1, 2, [0, 2], 7, "prefill", 6],
      ["7:0", 2, 1, [1, 2], 7, "prefill", 7],
      ["7:0", 2, 2, [0, 1], 7, "prefill", 7],
    ],
  );
  const stat = await execa(
    process.execPath,
    [CLI, "import", "--from", "sglang", path.join(dir, "stat.pt"), "-o", out, "--python", py],
    {
      reject: false,
    },
  );
  assert.equal(stat.exitCode, 1);
  assert.match(
    stat.stderr,
    /stat\.pt: a `stat` dump \(logical_count\) holds expert counts, not per-token expert ids; record with --expert-distribution-recorder-mode per_token/,
  );
});

test("weights_logged: false: rows must not carry topk_weights; otherwise they must", async () => {
  const without = { ...route("r0", 0, 0, [0, 1]), topk_weights: undefined };
  const noWeights = writeLog([
    JSON.stringify({ ...META, layers_logged: [0], weights_logged: false }),
    JSON.stringify(route("r0", 0, 0, [0, 1])),
  ]);
  let r = await execa(process.execPath, [CLI, "validate", noWeights], { reject: false });
  assert.equal(r.exitCode, 1);
  assert.match(r.stderr + r.stdout, /:2: topk_weights: must be absent: the meta line says weights_logged: false/);
  const usual = writeLog([JSON.stringify({ ...META, layers_logged: [0] }), JSON.stringify(without)]);
  r = await execa(process.execPath, [CLI, "validate", usual], { reject: false });
  assert.equal(r.exitCode, 1);
  assert.match(r.stderr + r.stdout, /:2: topk_weights: missing/);
});
