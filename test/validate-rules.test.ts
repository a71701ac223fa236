import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { validateRoutesFile } from "../src/log-scan/validate-file.js";
import { META, FIXTURES, goodLines, route, tempDir, writeLog } from "./helpers.js";

/** Validates the lines and returns the first error with the file name replaced by FILE. */
async function firstError(
  lines: string[],
  opts: { noFinalNewline?: boolean; maxLineBytes?: number } = {},
): Promise<string> {
  const file = writeLog(lines, "moe_routes.jsonl", opts.noFinalNewline);
  const r = await validateRoutesFile(file, { maxLineBytes: opts.maxLineBytes });
  assert.equal(r.valid, false, "expected the log to be rejected");
  return r.errors[0]!.replace(file, "FILE");
}

const withMeta = (patch: object) => JSON.stringify({ ...META, ...patch });
const replaceLine = (i: number, text: string) => {
  const l = goodLines();
  l[i] = text;
  return l;
};

test("the good log and both fixtures validate", async () => {
  const r = await validateRoutesFile(writeLog(goodLines()));
  assert.deepEqual(r.errors, []);
  assert.equal(r.scan.rows, 10);
  for (const f of ["seed-schema.jsonl", "full-schema.jsonl"]) {
    const v = await validateRoutesFile(path.join(FIXTURES, f));
    assert.equal(v.valid, true, v.errors.join("\n"));
    assert.equal(v.scan.rows, 10);
    assert.equal(v.scan.requests.length, 2);
  }
});

test("seed-schema logs (no optional fields) validate; meta keeps unknown keys", async () => {
  const r = await validateRoutesFile(path.join(FIXTURES, "seed-schema.jsonl"));
  assert.equal(r.scan.meta?.num_experts, undefined);
  const full = await validateRoutesFile(path.join(FIXTURES, "full-schema.jsonl"));
  assert.equal((full.scan.meta as Record<string, unknown>).gpu_count, 1);
});

test("empty file", async () => {
  assert.equal(await firstError([], { noFinalNewline: true }), "FILE: empty file: expected a meta line and route rows");
});

test("meta must be first and only once", async () => {
  const l = goodLines();
  [l[0], l[1]] = [l[1]!, l[0]!];
  assert.match(await firstError(l), /^FILE:1: type: line 1 must be the meta line/);
  const twice = goodLines();
  twice.splice(3, 0, JSON.stringify(META));
  assert.equal(await firstError(twice), "FILE:4: type: a second meta line: the meta line must appear once, on line 1");
});

test("meta field rules", async () => {
  const cases: [object, RegExp][] = [
    [{ model_id: 5 }, /^FILE:1: model_id: must be a string$/],
    [{ seed: 1.5 }, /^FILE:1: seed: must be an integer$/],
    [{ layers_logged: [] }, /^FILE:1: layers_logged: must not be empty$/],
    [{ layers_logged: [0, 0] }, /^FILE:1: layers_logged: must not repeat a layer$/],
    [{ layers_logged: [0, -1] }, /^FILE:1: layers_logged\[1\]: must be >= 0$/],
    [{ top_k: 0 }, /^FILE:1: top_k: must be >= 1$/],
    [{ num_experts: 1 }, /^FILE:1: top_k: must be <= num_experts$/],
    [{ engine: 3 }, /^FILE:1: engine: must be a string$/],
  ];
  for (const [patch, re] of cases)
    assert.match(await firstError(replaceLine(0, withMeta(patch))), re, JSON.stringify(patch));
  const { device: _d, ...noDevice } = META;
  assert.equal(await firstError(replaceLine(0, JSON.stringify(noDevice))), "FILE:1: device: missing");
});

test("route field rules", async () => {
  const cases: [object, RegExp][] = [
    [{ type: "rout" }, /^FILE:2: type: must be "route"$/],
    [{ req_id: 7 }, /^FILE:2: req_id: must be a string$/],
    [{ token_idx: -1 }, /^FILE:2: token_idx: must be >= 0$/],
    [{ token_idx: 1.5 }, /^FILE:2: token_idx: must be an integer$/],
    [{ layer: 1 }, /^FILE:2: layer: must be one of layers_logged \[0,3\]$/],
    [{ topk_ids: [1] }, /^FILE:2: topk_ids: must have top_k = 2 entries$/],
    [{ topk_ids: [1, 1] }, /^FILE:2: topk_ids: must not repeat an expert$/],
    [{ topk_ids: [1, -2] }, /^FILE:2: topk_ids\[1\]: must be >= 0$/],
    [{ topk_ids: [1, 70000] }, /^FILE:2: topk_ids\[1\]: must be <= 65535$/],
    [{ topk_ids: [1, "2"] }, /^FILE:2: topk_ids\[1\]: must be an integer$/],
    [{ topk_weights: [0.5, 1.5] }, /^FILE:2: topk_weights\[1\]: must be in \[0, 1\]$/],
    [{ topk_weights: [0.5] }, /^FILE:2: topk_weights: must have top_k = 2 entries$/],
    [{ phase: "decoding" }, /^FILE:2: phase: must be "prefill" or "decode"$/],
    [{ step: -3 }, /^FILE:2: step: must be >= 0$/],
    [{ token_id: "x" }, /^FILE:2: token_id: must be an integer$/],
  ];
  for (const [patch, re] of cases) {
    const row = { ...route("r0", 0, 0, [0, 1], [0.6, 0.4]), ...patch };
    assert.match(await firstError(replaceLine(1, JSON.stringify(row))), re, JSON.stringify(patch));
  }
  const { req_id: _r, ...noReq } = route("r0", 0, 0, [0, 1], [0.6, 0.4]);
  assert.equal(await firstError(replaceLine(1, JSON.stringify(noReq))), "FILE:2: req_id: missing");
});

test("expert ids must be below num_experts when the meta declares it", async () => {
  const l = replaceLine(0, withMeta({ num_experts: 3 }));
  l[1] = JSON.stringify(route("r0", 0, 0, [0, 3], [0.6, 0.4]));
  assert.equal(await firstError(l), "FILE:2: topk_ids[1]: must be < num_experts (3)");
});

test("non-object lines, bad JSON, blank lines, NaN/Infinity", async () => {
  assert.equal(await firstError(replaceLine(2, "[1,2]")), "FILE:3: not a JSON object (got an array)");
  assert.equal(await firstError(replaceLine(2, "42")), "FILE:3: not a JSON object (got number)");
  assert.equal(await firstError(replaceLine(2, '{"type":"route",')), "FILE:3: not valid JSON");
  assert.equal(await firstError(replaceLine(2, "")), "FILE:3: blank line");
  assert.equal(
    await firstError(
      replaceLine(
        2,
        '{"type":"route","req_id":"r0","token_idx":1,"layer":0,"topk_ids":[0,1],"topk_weights":[NaN,0.4]}',
      ),
    ),
    "FILE:3: topk_weights: NaN/Infinity is not valid JSON (write finite numbers)",
  );
  assert.equal(
    await firstError(
      replaceLine(
        2,
        '{"type":"route","req_id":"r0","token_idx":1,"layer":0,"topk_ids":[0,1],"topk_weights":[0.1,-Infinity]}',
      ),
    ),
    "FILE:3: topk_weights: NaN/Infinity is not valid JSON (write finite numbers)",
  );
});

test("duplicate (req_id, token_idx, layer)", async () => {
  const l = goodLines();
  l.splice(3, 0, l[1]!);
  assert.equal(await firstError(l), 'FILE:4: duplicate row: req_id "r0", token_idx 0, layer 0 already seen');
});

test("a row missing from one layer names the layer and the row", async () => {
  const l = goodLines();
  // Line index 7 is r0 token 1 in layer 3 (1 meta + 5 rows of layer 0 + r0 t0).
  assert.match(l[7]!, /"req_id":"r0","token_idx":1,"layer":3/);
  l.splice(7, 1);
  assert.equal(await firstError(l), 'FILE: layer 3: missing row req_id "r0", token_idx 1, present in other layers');
  // A request entirely absent from a layer.
  const m = goodLines().filter((x) => !(x.includes('"r1"') && x.includes('"layer":0')));
  assert.equal(
    await firstError(m),
    'FILE: layer 0: missing row req_id "r1", token_idx 0, present in other layers (and 1 more positions of this request)',
  );
});

test("truncated last line is reported as a truncated file; a complete last line without newline is fine", async () => {
  const l = goodLines();
  l[l.length - 1] = l[l.length - 1]!.slice(0, 30);
  assert.equal(
    await firstError(l, { noFinalNewline: true }),
    `FILE:${l.length}: truncated file: the last line ends without a newline and is not complete JSON`,
  );
  const ok = await validateRoutesFile(writeLog(goodLines(), "x.jsonl", true));
  assert.equal(ok.valid, true);
});

test("invalid UTF-8 and overlong lines", async () => {
  const dir = tempDir();
  const file = path.join(dir, "bad-utf8.jsonl");
  const lines = goodLines();
  const bad = Buffer.from(lines[2]!.replace('"r0"', '"r\u00e9"'));
  const at = bad.indexOf(0xc3);
  bad[at] = 0xff; // not a valid UTF-8 lead byte
  writeFileSync(
    file,
    Buffer.concat([
      Buffer.from(lines.slice(0, 2).join("\n") + "\n"),
      bad,
      Buffer.from("\n" + lines.slice(3).join("\n") + "\n"),
    ]),
  );
  const r = await validateRoutesFile(file);
  assert.equal(r.errors[0], `${file}:3: not valid UTF-8`);

  const long = goodLines();
  long[4] = JSON.stringify({ ...route("r0", 2, 0, [2, 3], [0.6, 0.4]), pad: "x".repeat(5000) });
  assert.equal(await firstError(long, { maxLineBytes: 1024 }), "FILE:5: line longer than 1024 bytes");
});

test("with --all-errors, a line 1 that cannot be read stops the scan with one error", async () => {
  const long = goodLines();
  long[0] = JSON.stringify({ ...META, prompts: ["x".repeat(3000)] });
  const file = writeLog(long);
  const r = await validateRoutesFile(file, { allErrors: true, maxLineBytes: 1024 });
  assert.deepEqual(r.errors, [`${file}:1: line longer than 1024 bytes`]);
  const bin = path.join(tempDir(), "bin.jsonl");
  writeFileSync(
    bin,
    Buffer.concat([Buffer.from([0xff, 0xfe, 0x0a]), Buffer.from(goodLines().slice(1).join("\n") + "\n")]),
  );
  const b = await validateRoutesFile(bin, { allErrors: true });
  assert.deepEqual(b.errors, [`${bin}:1: not valid UTF-8`]);
});

test("a .partial file is reported as incomplete", async () => {
  const file = writeLog(goodLines(), "moe_routes.jsonl.partial");
  const r = await validateRoutesFile(file);
  assert.equal(r.valid, false);
  assert.equal(
    r.errors[0],
    `${file}: file name ends in .partial: the log is incomplete (still being written, or left by a crash)`,
  );
});

test("--all-errors keeps going and counts every problem", async () => {
  const l = goodLines();
  l[2] = "nope";
  l[3] = JSON.stringify(route("r0", 2, 0, [1, 1]));
  const file = writeLog(l);
  const first = await validateRoutesFile(file);
  assert.equal(first.scan.problemCount, 1);
  const all = await validateRoutesFile(file, { allErrors: true });
  // Two bad lines. Their rows are then missing from layer 0 (r0 tokens 1 and 2): token 2's line
  // named its row and was reported already; token 1's ("nope") did not, so it is reported missing.
  assert.deepEqual(
    all.errors.map((e) => e.replace(file, "FILE")),
    [
      "FILE:3: not valid JSON",
      "FILE:4: topk_ids: must not repeat an expert",
      'FILE: layer 0: missing row req_id "r0", token_idx 1, present in other layers',
    ],
  );
});

test("a missing file is an environment error, not an invalid log", async () => {
  const dir = tempDir();
  await assert.rejects(
    validateRoutesFile(path.join(dir, "nope.jsonl")),
    (e: Error & { exitCode?: number }) =>
      e.exitCode === 2 && /cannot read: no such file or directory \(ENOENT\)/.test(e.message),
  );
});
