// --json on every command that reads a log: one JSON object on stdout, on one line; --pretty
// indents it (the same object) and is refused without --json. validate --json says the verdict
// either way.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { execa } from "execa";
import { CLI, FIXTURES, tempDir } from "./helpers.js";

const FULL = path.join(FIXTURES, "full-schema.jsonl");
const cli = (args: string[]) => execa(process.execPath, [CLI, ...args], { reject: false });

const COMMANDS: string[][] = [
  ["validate", FULL],
  ["hist", FULL],
  ["cache", FULL],
  ["place", FULL, "--gpus", "2,3"],
  ["export", FULL, "--format", "eplb"],
  ["compare", FULL, FULL],
];
const withOut = (c: string[]) => (c[0] === "validate" ? c : [...c, "--out", tempDir()]);

test("--json prints one line of JSON and nothing else; --pretty the same object indented", async () => {
  for (const c of COMMANDS) {
    const r = await cli([...withOut(c), "--json"]);
    assert.equal(r.exitCode, 0, `${c[0]}: ${r.stderr}`);
    assert.equal(r.stderr, "", c[0]);
    assert.equal(r.stdout.split("\n").length, 1, `${c[0]}: --json is one line`);
    const one = JSON.parse(r.stdout) as unknown;
    assert.ok(one !== null && typeof one === "object" && !Array.isArray(one), c[0]);
    const p = await cli([...withOut(c), "--json", "--pretty"]);
    assert.equal(p.exitCode, 0, `${c[0]}: ${p.stderr}`);
    assert.ok(p.stdout.split("\n").length > 3, `${c[0]}: --pretty indents`);
    assert.deepEqual(JSON.parse(p.stdout), one, c[0]);
  }
});

test("--pretty without --json is refused (exit 2) by every command", async () => {
  for (const c of COMMANDS) {
    const r = await cli([...withOut(c), "--pretty"]);
    assert.equal(r.exitCode, 2, c[0]);
    assert.equal(r.stderr, "moe-prof: --pretty: only with --json", c[0]);
    assert.equal(r.stdout, "");
  }
});

test("validate --json: the verdict of a valid and of an invalid log, exit 0 and 1", async () => {
  const ok = await cli(["validate", FULL, "--json"]);
  assert.equal(ok.exitCode, 0);
  assert.deepEqual(JSON.parse(ok.stdout), {
    schema: "moe-prof.validate/1",
    file: FULL,
    valid: true,
    rows: 10,
    requests: 2,
    lines: 11,
    layers_logged: [0, 3],
    top_k: 2,
    num_experts: 6,
    model_id: "test/tiny-moe",
    problem_count: 0,
    errors: [],
  });
  const seed = path.join(FIXTURES, "seed-layout.jsonl");
  for (const extra of [[], ["--all-errors"]]) {
    const bad = await cli(["validate", seed, "--json", ...extra]);
    assert.equal(bad.exitCode, 1);
    assert.equal(bad.stderr, "");
    const v = JSON.parse(bad.stdout) as { valid: boolean; problem_count: number; errors: string[] };
    assert.equal(v.valid, false);
    assert.equal(v.problem_count, extra.length ? 6 : 1);
    assert.match(v.errors[0]!, /seed-layout\.jsonl:8: duplicate row/);
  }
  const noMeta = await execa(process.execPath, [CLI, "validate", "-", "--json"], { reject: false, input: "" });
  // stdin empty: no meta line, so the meta's fields are null
  const v = JSON.parse(noMeta.stdout) as { file: string; valid: boolean; layers_logged: null; model_id: null };
  assert.equal(noMeta.exitCode, 1);
  assert.deepEqual([v.file, v.valid, v.layers_logged, v.model_id], ["<stdin>", false, null, null]);
});
