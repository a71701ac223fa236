// The command outside the checkout, installed as README "Install the command" says: `npm pack`
// makes the tarball (what `npm publish` would upload: package.json's "files"), `npm install -g
// --prefix P` installs it, and the installed `moe-prof` runs from another directory: its version,
// a validate, and a run refusal that reads the bundled GSM8K prompts (a file that only "files"
// brings along). --ignore-scripts: dist/ is built already (the pack ships it), and canvas's build
// is not needed by these commands (7 s in all here, against 39 s with canvas built from source);
// --prefer-offline: the packages come from npm's cache, which `npm ci` filled.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { FIXTURES, ROOT, readJson, tempDir } from "./helpers.js";

test(
  "npm pack, npm install -g --prefix of the tarball: the installed moe-prof runs outside the checkout",
  { timeout: 300_000 },
  async () => {
    const work = tempDir();
    const npm = (args: string[], cwd: string) =>
      execa("npm", [...args, "--no-audit", "--no-fund", "--ignore-scripts"], { cwd, timeout: 240_000 });
    await npm(["pack", "--pack-destination", work], ROOT);
    const { version } = readJson(path.join(ROOT, "package.json")) as { version: string };
    const tarball = path.join(work, `moe-prof-${version}.tgz`);
    assert.deepEqual(readdirSync(work), [path.basename(tarball)]);
    const prefix = path.join(work, "prefix");
    await npm(["install", "-g", "--prefix", prefix, "--prefer-offline", tarball], work);

    const elsewhere = tempDir();
    const moeProf = (args: string[]) =>
      execa(path.join(prefix, "bin", "moe-prof"), args, { cwd: elsewhere, reject: false, timeout: 60_000 });
    const v = await moeProf(["--version"]);
    assert.equal(v.exitCode, 0, v.stderr);
    assert.equal(v.stdout, version);
    const log = path.join(elsewhere, "moe_routes.jsonl");
    copyFileSync(path.join(FIXTURES, "seed-schema.jsonl"), log);
    const val = await moeProf(["validate", "moe_routes.jsonl"]);
    assert.equal(val.exitCode, 0, val.stderr);
    assert.match(val.stdout, /^moe_routes\.jsonl: valid: 10 rows/);
    const run = await moeProf(["run", "--num-prompts", "1e9", "--python", "/nonexistent/python"]);
    assert.equal(run.exitCode, 2);
    assert.match(
      run.stderr,
      new RegExp(
        `^moe-prof: --num-prompts 1000000000: ${prefix}/lib/node_modules/moe-prof/.*test\\.jsonl has only 1319 questions$`,
      ),
    );
  },
);
