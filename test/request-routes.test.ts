// hist --request ID: one request's routes (experts by weight, top-1 first, per token and layer),
// checked against the log's lines read plainly; the table, the picture and the JSON; an id the
// log lacks is a usage error naming those it has.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { runRequest } from "../src/commands/hist/request.js";
import { parseLog, randomLog, top1 } from "./brute-force.js";
import { CLI, FIXTURES, tempDir, writeLog } from "./helpers.js";

const cli = (args: string[]) => execa(process.execPath, [CLI, ...args], { reject: false });

test("the request's tokens and experts are the log's rows of that request, heaviest expert first", async () => {
  for (const seed of [1, 2, 3]) {
    const text = randomLog({ seed, requests: 4, layers: [0, 2, 5], experts: 10, topK: 3, maxTokens: 12 });
    const file = writeLog(text.trimEnd().split("\n"));
    const { rows } = parseLog(text);
    for (const layers of [undefined, "2,5"]) {
      const want = layers === undefined ? [0, 2, 5] : [2, 5];
      const r = await runRequest(file, { request: "q1", layers });
      assert.deepEqual(r.layers, want);
      const mine = rows.filter((x) => x.req_id === "q1");
      const positions = [...new Set(mine.map((x) => x.token_idx))].sort((a, b) => a - b);
      assert.deepEqual(
        r.tokens.map((t) => t.token_idx),
        positions,
      );
      for (const t of r.tokens) {
        want.forEach((layer, li) => {
          const row = mine.find((x) => x.token_idx === t.token_idx && x.layer === layer)!;
          assert.equal(t.experts[li]![0], top1(row), `seed ${seed} token ${t.token_idx} layer ${layer}`);
          assert.deepEqual([...t.experts[li]!].sort(), [...row.topk_ids].sort());
          const ws = t.weights[li]!;
          assert.ok(
            ws.every((w, i) => i === 0 || ws[i - 1]! >= w),
            "weights descending",
          );
          assert.equal(t.phase, row.phase);
        });
      }
    }
  }
});

test("hist --request: a table on stdout and request_<id>.png; --json one line; unknown id exit 2", async () => {
  const log = path.join(FIXTURES, "full-schema.jsonl");
  const out = tempDir();
  const r = await cli(["hist", log, "--request", "a", "--out", out]);
  assert.equal(r.exitCode, 0, r.stderr);
  const lines = r.stdout.split("\n");
  assert.match(
    lines[0]!,
    /^request "a" of full-schema\.jsonl: 3 tokens x 2 layers, top-2 of 6 experts, test\/tiny-moe$/,
  );
  assert.equal(lines[2], "token  phase    token_id  L0   L3");
  assert.equal(lines[3], "0      prefill  100       0,1  1,0");
  const png = path.join(out, "request_a.png");
  assert.equal(lines[lines.length - 1], `wrote ${png}`);
  assert.ok(readFileSync(png).subarray(1, 4).toString() === "PNG");
  assert.ok(!existsSync(path.join(out, "summary.json")), "only the request's picture");

  const j = await cli(["hist", log, "--request", "b", "--out", out, "--json"]);
  assert.equal(j.stdout.split("\n").length, 1);
  const v = JSON.parse(j.stdout) as { schema: string; req_id: string; tokens: { experts: number[][] }[] };
  assert.equal(v.schema, "moe-prof.request/1");
  assert.equal(v.tokens.length, 2);

  const no = await cli(["hist", log, "--request", "zz", "--out", out]);
  assert.equal(no.exitCode, 2);
  assert.match(no.stderr, /--request "zz": no such req_id in \S+full-schema\.jsonl \(2 requests: "a", "b"\)/);
  const odd = await cli(["hist", log, "--request", "a", "--as-batches", "--out", out]);
  assert.equal(odd.exitCode, 2);
});
