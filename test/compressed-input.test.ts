// Logs read compressed (.gz, .zst, recognised by their first bytes) and from standard input ("-"):
// every command that reads a log gives what it gives on the plain file, messages name the file
// (`<stdin>` for -), and the parallel scans, which cannot cut such input into byte ranges, fall
// back to the stream.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, copyFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { execa } from "execa";
import { analyseRoutesFile, parallelPlan } from "../src/log-scan/analyse-routes.js";
import { validateRoutesFile } from "../src/log-scan/validate-file.js";
import { startRangeWorker } from "../src/log-scan/range-worker-start.js";
import { writeSynthRoutes, DEFAULT_SYNTH } from "../scripts/synth-routes.js";
import { CLI, FIXTURES, goodLines, tempDir, writeLog } from "./helpers.js";

const PLAIN = path.join(FIXTURES, "full-schema.jsonl");
/** Made with `zstd -19` from full-schema.jsonl (Node 20 cannot write zstd). */
const ZST = path.join(FIXTURES, "full-schema.jsonl.zst");

const cli = (args: string[], input?: Buffer | string) =>
  execa(process.execPath, [CLI, ...args], { reject: false, input, stripFinalNewline: false });

function gz(src: string, name = "moe_routes.jsonl.gz"): string {
  const f = path.join(tempDir(), name);
  writeFileSync(f, gzipSync(readFileSync(src)));
  return f;
}

/** The JSON a command prints with --json, without what names the input file. */
async function jsonOf(args: string[], input?: Buffer): Promise<unknown> {
  const r = await cli([...args, "--json", "--out", tempDir()], input);
  assert.equal(r.exitCode, 0, `${args.join(" ")}: ${r.stderr}`);
  const v = JSON.parse(r.stdout) as Record<string, unknown>;
  return JSON.parse(
    JSON.stringify(v, (k, x: unknown) => (k === "file" || k === "source" || k === "a" || k === "b" ? undefined : x)),
  );
}

test("validate reads .gz, .zst (by content, whatever the name) and standard input, plain or compressed", async () => {
  const renamed = path.join(tempDir(), "looks-plain.jsonl");
  copyFileSync(ZST, renamed);
  const plain = await cli(["validate", PLAIN]);
  assert.equal(plain.exitCode, 0);
  const want = plain.stdout.slice(plain.stdout.indexOf(": valid"));
  for (const [args, input, name] of [
    [[gz(PLAIN)], undefined, "moe_routes.jsonl.gz"],
    [[ZST], undefined, "full-schema.jsonl.zst"],
    [[renamed], undefined, "looks-plain.jsonl"],
    [["-"], readFileSync(PLAIN), "<stdin>"],
    [["-"], gzipSync(readFileSync(PLAIN)), "<stdin>"],
    [["-"], readFileSync(ZST), "<stdin>"],
  ] as const) {
    const r = await cli(["validate", ...args], input);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.ok(r.stdout.endsWith(want) && r.stdout.includes(name), r.stdout);
  }
});

test("a bad line inside a compressed log or stdin is reported FILE:LINE: field: what", async () => {
  const lines = goodLines();
  lines[4] = lines[4]!.replace('"topk_ids":[', '"topk_ids":["x",');
  const text = lines.join("\n") + "\n";
  const file = writeLog(lines);
  const r1 = await cli(["validate", gz(file, "bad.jsonl.gz")]);
  assert.equal(r1.exitCode, 1);
  assert.match(r1.stderr, /^moe-prof: \S*bad\.jsonl\.gz:5: topk_ids/);
  const r2 = await cli(["hist", "-", "--out", tempDir()], text);
  assert.equal(r2.exitCode, 1);
  assert.match(r2.stderr, /^moe-prof: <stdin>:5: topk_ids/);
  const r3 = await cli(["cache", "-", "--out", tempDir()], gzipSync(text));
  assert.equal(r3.exitCode, 1);
  assert.match(r3.stderr, /^moe-prof: <stdin>:5: topk_ids/);
});

test("truncated or corrupt compressed data: exit 1, one line naming the file and the codec", async () => {
  const g = readFileSync(gz(PLAIN));
  const z = readFileSync(ZST);
  const dir = tempDir();
  const cases: [string, Buffer, RegExp][] = [
    ["cut.jsonl.gz", g.subarray(0, g.length - 40), /cut\.jsonl\.gz: gzip: cannot decompress/],
    ["cut.jsonl.zst", z.subarray(0, z.length - 40), /cut\.jsonl\.zst: zstd: cannot decompress/],
    [
      "junk.jsonl.gz",
      Buffer.concat([g.subarray(0, 12), Buffer.alloc(200, 7)]),
      /junk\.jsonl\.gz: gzip: cannot decompress/,
    ],
  ];
  for (const [name, bytes, re] of cases) {
    const f = path.join(dir, name);
    writeFileSync(f, bytes);
    const r = await cli(["validate", f]);
    assert.equal(r.exitCode, 1, name);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
  const p = await cli(["validate", "-"], Buffer.from("PAR1 and the rest of a Parquet file"));
  assert.equal(p.exitCode, 1);
  assert.match(p.stderr, /<stdin>: a Parquet log cannot be read from standard input/);
});

test("hist, cache, place, export and compare give the same results on .gz, .zst and stdin as on the plain log", async () => {
  const inputs: [string[], Buffer | undefined][] = [
    [[gz(PLAIN)], undefined],
    [[ZST], undefined],
    [["-"], readFileSync(ZST)],
  ];
  for (const cmd of [["hist"], ["cache"], ["place", "--gpus", "2,3"], ["export", "--format", "eplb"]]) {
    const want = await jsonOf([cmd[0]!, PLAIN, ...cmd.slice(1)]);
    for (const [args, input] of inputs) {
      assert.deepEqual(await jsonOf([cmd[0]!, ...args, ...cmd.slice(1)], input), want, `${cmd[0]} ${args[0]}`);
    }
  }
  const want = await jsonOf(["compare", PLAIN, PLAIN]);
  assert.deepEqual(await jsonOf(["compare", ZST, "-"], readFileSync(PLAIN)), want);
  assert.deepEqual(await jsonOf(["compare", gz(PLAIN), ZST]), want);
  const both = await cli(["compare", "-", "-"], "");
  assert.equal(both.exitCode, 2);
  assert.match(both.stderr, /standard input \(-\) can be only one of the two logs/);
});

test("the parallel scans leave compressed logs and stdin to the stream, with the plain log's results", async () => {
  const plain = path.join(tempDir(), "moe_routes.jsonl");
  writeSynthRoutes(plain, { ...DEFAULT_SYNTH, seed: 3, requests: 6, batch: 4, layers: 4, experts: 16 });
  const packed = gz(plain);
  const par = { threads: 2, parallelMinBytes: 0 };
  assert.ok((await parallelPlan(plain, 2, 0)) !== null, "the plain log is split");
  assert.equal(await parallelPlan(packed, 2, 0), null);
  assert.equal(await parallelPlan("-", 2, 0), null);
  assert.equal(startRangeWorker(packed, par), null);
  const a = await analyseRoutesFile(plain, par);
  const b = await analyseRoutesFile(packed, par);
  assert.deepEqual({ ...b.summary, source: null }, { ...a.summary, source: null });
  const v = await validateRoutesFile(packed, par);
  assert.equal(v.valid, true);
  assert.equal(v.scan.rows, a.summary.rows);
});

test("a zstd log of many frames and blocks streams through (zstd(1) makes it, when installed)", async (t) => {
  if (spawnSync("zstd", ["--version"]).status !== 0) return t.skip("zstd(1) not installed");
  const plain = path.join(tempDir(), "moe_routes.jsonl");
  writeSynthRoutes(plain, { ...DEFAULT_SYNTH, seed: 5, requests: 20, batch: 8, layers: 6, experts: 32 });
  const packed = `${plain}.zst`;
  // Two frames (as `cat a.zst b.zst` makes), each of many 128 KiB blocks.
  const text = readFileSync(plain);
  const cut = text.indexOf(10, text.length >> 1) + 1;
  const frame = (b: Buffer) => spawnSync("zstd", ["-q", "-c", "-3"], { input: b, maxBuffer: 1 << 30 }).stdout;
  writeFileSync(packed, Buffer.concat([frame(text.subarray(0, cut)), frame(text.subarray(cut))]));
  const a = await analyseRoutesFile(plain, { threads: 1 });
  const b = await analyseRoutesFile(packed, { threads: 1 });
  assert.ok(text.length > 1 << 20, `${text.length} bytes`);
  assert.deepEqual({ ...b.summary, source: null }, { ...a.summary, source: null });
});
