// Exit codes and messages match README's table for the cases a hostile test found wrong:
// unreadable log (exit 2, one line), --num-prompts beyond the set (2), a binary --prompts file,
// a UTF-8 byte-order mark, integers beyond 2^53 in the meta line and in --seed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { CLI, FIXTURES, META, goodLines, tempDir, writeLog } from "./helpers.js";
import { parsePromptsFile, readPromptsFile } from "../src/prompts/read-prompts-file.js";
import { UserError } from "../src/errors.js";

const cli = (args: string[]) => execa(process.execPath, [CLI, ...args], { reject: false, timeout: 60_000 });

/**
 * The CLI without the power to read past file permissions. Root reads anything, so as root it
 * runs still as root but without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (util-linux's
 * setpriv): a switch to uid 65534 instead could not reach a checkout under a folder that user
 * cannot enter (any `mktemp -d`) and failed with MODULE_NOT_FOUND, by where the clone sat.
 */
const cliUnprivileged = (args: string[]) =>
  process.getuid?.() === 0
    ? execa("setpriv", ["--bounding-set", "-dac_override,-dac_read_search", process.execPath, CLI, ...args], {
        reject: false,
        timeout: 60_000,
      })
    : cli(args);

const oneLine = (stderr: string) => assert.equal(stderr.trim().split("\n").length, 1, stderr);

test("a log the user may not read: exit 2 and one line, for validate and hist", async () => {
  const dir = tempDir();
  const log = path.join(dir, "moe_routes.jsonl");
  writeFileSync(log, readFileSync(path.join(FIXTURES, "seed-schema.jsonl")));
  chmodSync(log, 0o000);
  const out = path.join(dir, "out");
  mkdirSync(out);
  for (const args of [
    ["validate", log],
    ["hist", log, "--out", out],
  ]) {
    const r = await cliUnprivileged(args);
    assert.equal(r.exitCode, 2, `${args[0]}: ${r.stderr}`);
    assert.equal(r.stderr, `moe-prof: ${log}: cannot read: permission denied (EACCES)`);
  }
  // the same CLI, the same way, reads the log once it may
  chmodSync(log, 0o644);
  const ok = await cliUnprivileged(["validate", log]);
  assert.equal(ok.exitCode, 0, ok.stderr);
});

test("--num-prompts beyond the prompt set is a usage error (exit 2)", async () => {
  const r = await cli(["run", "--num-prompts", "1e9", "--python", "/nonexistent/python"]);
  assert.equal(r.exitCode, 2, r.stderr);
  assert.match(r.stderr, /^moe-prof: --num-prompts 1000000000: .*test\.jsonl has only 1319 questions$/);
});

test("a binary --prompts file is refused, naming the line; a BOM is not part of the first prompt", () => {
  const dir = tempDir();
  const bin = path.join(dir, "weights.bin");
  writeFileSync(
    bin,
    Buffer.concat([Buffer.from("first line\nsecond\n"), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x00, 0x01])]),
  );
  assert.throws(
    () => readPromptsFile(bin, 25),
    (e: unknown) =>
      e instanceof UserError &&
      e.exitCode === 1 &&
      e.message ===
        `${bin}:3: not a text file (a NUL byte): --prompts takes JSONL or plain UTF-8 text, one prompt per line`,
  );
  const latin1 = path.join(dir, "prompts.txt");
  writeFileSync(latin1, Buffer.from("caf\xe9\n", "latin1"));
  assert.throws(() => readPromptsFile(latin1, 25), /prompts\.txt:1: not a text file \(bytes that are not UTF-8\)/);
  assert.deepEqual(parsePromptsFile('\uFEFF{"prompt":"a"}\n"b"\n', "p.jsonl", 25), ["a", "b"]);
  assert.deepEqual(parsePromptsFile("\uFEFFhello\n", "p.txt", 25), ["hello"]);
});

test("a UTF-8 byte-order mark before the meta line is skipped by validate and hist", async () => {
  const dir = tempDir();
  const log = path.join(dir, "moe_routes.jsonl");
  writeFileSync(
    log,
    Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), readFileSync(path.join(FIXTURES, "seed-schema.jsonl"))]),
  );
  const v = await cli(["validate", log]);
  assert.equal(v.exitCode, 0, v.stderr);
  const h = await cli(["hist", log, "--json", "--out", dir]);
  assert.equal(h.exitCode, 0, h.stderr);
  assert.equal(JSON.parse(h.stdout).rows, 10);
});

test("integers beyond 2^53 - 1 are refused with that reason, not 'must be an integer'", async () => {
  const lines = goodLines();
  lines[0] = JSON.stringify(META).replace('"seed":0', '"seed":9007199254740993');
  const log = writeLog(lines);
  const v = await cli(["validate", log]);
  assert.equal(v.exitCode, 1);
  assert.equal(
    v.stderr,
    `moe-prof: ${log}:1: seed: must be within ±(2^53 - 1) = ±9007199254740991: larger integers cannot be read exactly from JSON`,
  );
  const row = goodLines();
  row[1] = row[1]!.replace('"token_idx":0', '"token_idx":18014398509481984');
  const r = await cli(["validate", writeLog(row)]);
  assert.match(r.stderr, /:2: token_idx: must be within ±\(2\^53 - 1\)/);

  for (const [seed, what] of [
    ["9007199254740993", "must be at most 4294967295"],
    ["1.5", "must be an integer"],
    ["-1", "must be >= 0"],
  ]) {
    const s = await cli(["run", "--seed", seed!, "--python", "/nonexistent/python"]);
    assert.equal(s.exitCode, 2);
    oneLine(s.stderr);
    assert.match(s.stderr, new RegExp(`^moe-prof: --seed: ${what!.replace(/[()^]/g, "\\$&")}`));
  }
});

test("messages in words: --out naming a file, commander's own errors with moe-prof: and where --help is, singular counts, hf refuses vLLM's settings", async () => {
  const log = path.join(FIXTURES, "seed-schema.jsonl");
  const file = path.join(tempDir(), "results.txt");
  writeFileSync(file, "");
  for (const cmd of ["hist", "cache"]) {
    const r = await cli([cmd, log, "--out", file]);
    assert.equal(r.exitCode, 2);
    assert.equal(r.stderr, `moe-prof: --out ${file}: is a file, not a directory`, cmd);
  }
  const notDir = await cli(["hist", log, "--out", path.join(file, "sub")]);
  assert.equal(
    notDir.stderr,
    `moe-prof: --out ${file}/sub: cannot create: a part of the path is a file, not a directory (ENOTDIR)`,
  );
  const runOut = await cli(["run", "--out", file, "--num-prompts", "1", "--python", "/nonexistent/python"]);
  assert.equal(runOut.exitCode, 2);
  assert.match(runOut.stderr, /^moe-prof: --out .*results\.txt: is a file, not a directory/);

  for (const [args, want] of [
    [["run", "--foo"], "moe-prof: unknown option '--foo' (see `moe-prof run --help`)"],
    [
      ["run", "--enginee", "hf"],
      "moe-prof: unknown option '--enginee'; did you mean --engine? (see `moe-prof run --help`)",
    ],
    [["histo"], "moe-prof: unknown command 'histo'; did you mean hist? (see `moe-prof --help`)"],
    [["hist"], "moe-prof: missing required argument 'routes.jsonl' (see `moe-prof hist --help`)"],
    [
      ["run", "--engine", "x"],
      "moe-prof: option '--engine <name>' argument 'x' is invalid. Allowed choices are vllm, hf. (see `moe-prof run --help`)",
    ],
    [
      ["run", "--engine", "hf", "--tensor-parallel-size", "2", "--python", "/nonexistent/python"],
      "moe-prof: --tensor-parallel-size: is for --engine vllm (the hf engine runs the model on one device)",
    ],
    [
      ["cache", log, "--capacities", "2,100", "--out", tempDir()],
      "moe-prof: --capacities: 100 exceeds the 4 experts of seed-schema.jsonl",
    ],
    [
      ["cache", log, "--capacities", "100,200", "--out", tempDir()],
      "moe-prof: --capacities: 100,200 exceed the 4 experts of seed-schema.jsonl",
    ],
    [["place", log, "--gpus", "100", "--out", tempDir()], `moe-prof: --gpus: 100 exceeds the 4 experts of ${log}`],
  ] as const) {
    const r = await cli([...args]);
    assert.equal(r.exitCode, 2, args.join(" "));
    assert.equal(r.stderr, want);
  }

  const batches = await cli(["hist", log, "--as-batches", "--out", tempDir()]);
  assert.equal(batches.exitCode, 0, batches.stderr);
  assert.match(batches.stdout, /^seed-schema\.jsonl: 10 rows, in 1 batch \(--as-batches/);
  assert.match(batches.stderr, /grouped into 1 batch \(token_idx restarting\)/);
});
