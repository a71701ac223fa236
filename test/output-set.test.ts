// hist writes its files as one set: hist-manifest.json names each file's sha256 and the run; a
// hist killed after any step (MOE_PROF_TEST_KILL_AFTER_STEP) or failing midway never leaves a
// manifest that does not match the files beside it, and the next run removes what it left.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { CLI, FIXTURES, tempDir } from "./helpers.js";
import { MANIFEST_FILE, removeStaleStaging } from "../src/artifacts/output-set.js";

const cli = (args: string[], env: Record<string, string> = {}) =>
  execa(process.execPath, [CLI, ...args], { reject: false, env, timeout: 60_000 });
const SEED = path.join(FIXTURES, "seed-schema.jsonl");
const FULL = path.join(FIXTURES, "full-schema.jsonl");
// seed-schema logs layers 0 and 3: one layer pair, so layer_transitions.png too
const SET = ["expert_hist.png", "expert_heatmap.png", "layer_transitions.png", "summary.json"];

interface Manifest {
  run_id: string;
  source: { file: string };
  files: Record<string, { sha256: string; bytes: number }>;
}

/** The manifest in `dir`, after checking that every file it names has the bytes it says; null if none. */
function vouchedSet(dir: string): Manifest | null {
  const file = path.join(dir, MANIFEST_FILE);
  if (!existsSync(file)) return null;
  const m = JSON.parse(readFileSync(file, "utf8")) as Manifest;
  assert.deepEqual(Object.keys(m.files).sort(), [...SET].sort());
  for (const [name, { sha256 }] of Object.entries(m.files)) {
    assert.equal(
      createHash("sha256")
        .update(readFileSync(path.join(dir, name)))
        .digest("hex"),
      sha256,
      `${name} does not match ${MANIFEST_FILE}`,
    );
  }
  return m;
}

const strays = (dir: string) => readdirSync(dir).filter((n) => n.startsWith("."));

test("hist writes a manifest that matches its files and names the run", async () => {
  const out = tempDir();
  const r = await cli(["hist", SEED, "--out", out]);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`wrote .*summary\\.json, ${out}/${MANIFEST_FILE}$`));
  const m = vouchedSet(out)!;
  assert.equal(m.source.file, SEED);
  assert.match(m.run_id, /^moe-prof-hist-\d+-[0-9a-f]+$/);
  assert.deepEqual(strays(out), []);
});

test("killed after every step of writing over a previous set: any manifest matches; the next run cleans up", async () => {
  const log = path.join(tempDir(), "steps.log");
  const probe = tempDir();
  assert.equal((await cli(["hist", SEED, "--out", probe, "--json"], { MOE_PROF_TEST_STEP_LOG: log })).exitCode, 0);
  const steps = readFileSync(log, "utf8").trim().split("\n");
  assert.ok(steps.length >= 10, steps.join(","));
  const previous = tempDir();
  assert.equal((await cli(["hist", SEED, "--out", previous, "--json"])).exitCode, 0);
  const old = vouchedSet(previous)!;
  const seen = new Set<string>();
  for (let i = 1; i <= steps.length; i++) {
    const out = tempDir();
    cpSync(previous, out, { recursive: true });
    const r = await cli(["hist", FULL, "--out", out, "--json"], { MOE_PROF_TEST_KILL_AFTER_STEP: String(i) });
    assert.equal(r.signal, "SIGKILL", `step ${i} (${steps[i - 1]})`);
    const now = vouchedSet(out); // throws if a manifest does not match the files
    seen.add(now === null ? "none" : now.run_id === old.run_id ? "old" : "new");
    await removeStaleStaging(out);
    assert.deepEqual(strays(out), [], `after step ${i} (${steps[i - 1]}): left behind`);
  }
  assert.deepEqual([...seen].sort(), ["new", "none", "old"]);
  // and a full run afterwards leaves one complete set
  const out = tempDir();
  await cli(["hist", FULL, "--out", out, "--json"], { MOE_PROF_TEST_KILL_AFTER_STEP: String(steps.length - 3) });
  assert.ok(strays(out).length > 0, "the kill left a staging directory");
  assert.equal((await cli(["hist", FULL, "--out", out])).exitCode, 0);
  assert.equal(vouchedSet(out)!.source.file, FULL);
  assert.deepEqual(strays(out), []);
});

test("a write failing midway: exit 2 in one line, no manifest claims the mixed set, no staging left", async () => {
  const out = tempDir();
  assert.equal((await cli(["hist", SEED, "--out", out])).exitCode, 0);
  // summary.json cannot be replaced: a directory of that name (as if the disk refused the rename)
  const { rmSync } = await import("node:fs");
  rmSync(path.join(out, "summary.json"));
  mkdirSync(path.join(out, "summary.json", "x"), { recursive: true });
  const r = await cli(["hist", FULL, "--out", out]);
  assert.equal(r.exitCode, 2);
  assert.match(
    r.stderr,
    /^moe-prof: --out .*: cannot write: [a-z ]+ \(E[A-Z]+\) \(no complete output set there: hist-manifest\.json is missing or names the previous one\)$/,
  );
  assert.equal(existsSync(path.join(out, MANIFEST_FILE)), false);
  assert.deepEqual(strays(out), []);
});

test("a staging directory of a live hist is left alone", async () => {
  const out = tempDir();
  const mine = path.join(out, `.moe-prof-hist-${process.pid}-abcd1234.tmp`);
  const dead = path.join(out, ".moe-prof-hist-999999999-abcd1234.tmp");
  const oldTemp = path.join(out, ".summary.json.999999999.1700000000000.tmp");
  mkdirSync(mine);
  mkdirSync(dead);
  const { writeFileSync } = await import("node:fs");
  writeFileSync(oldTemp, "{");
  assert.deepEqual((await removeStaleStaging(out)).sort(), [path.basename(dead), path.basename(oldTemp)].sort());
  assert.ok(existsSync(mine));
});
