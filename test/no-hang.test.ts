// No command can hang: a --python whose child hangs with our pipe open is stopped at its timeout
// with its whole process group; one that answers but leaves a child holding the pipe is not waited
// on; output directories on kernel filesystems are refused at once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { CLI, FIXTURES, tempDir } from "./helpers.js";

const cli = (args: string[], env: Record<string, string> = {}) =>
  execa(process.execPath, [CLI, ...args], { reject: false, env, timeout: 60_000 });

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A "python" that starts a child holding stdout and stderr open, then behaves as `rest` says. */
function wrapper(rest: string): { python: string; orphanPid: () => number } {
  const dir = tempDir();
  const pidFile = path.join(dir, "orphan.pid");
  const python = path.join(dir, "python");
  writeFileSync(python, `#!/bin/sh\nsleep 300 &\necho $! > '${pidFile}'\n${rest}\n`);
  chmodSync(python, 0o755);
  return { python, orphanPid: () => Number(readFileSync(pidFile, "utf8")) };
}

async function waitDead(pid: number): Promise<boolean> {
  for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  return !alive(pid);
}

test("a --python whose child hangs holding the pipe: stopped at the timeout with its group, one line, exit 2", async () => {
  for (const args of [
    ["patch", "check"],
    ["run", "--engine", "hf", "--out", path.join(tempDir(), "out")],
  ]) {
    const w = wrapper("exec sleep 300");
    const started = Date.now();
    const r = await cli([...args, "--python", w.python], { MOE_PROF_PYTHON_TIMEOUT_S: "1" });
    const took = Date.now() - started;
    assert.equal(r.exitCode, 2, `${args[0]}: ${r.stderr}`);
    assert.match(
      r.stderr,
      /^moe-prof: .*python( -m moe_prof.preflight)? did not answer .*within 1 s \(stopped it and its children/,
    );
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.ok(took < 15_000, `${args[0]} took ${took} ms`);
    assert.ok(await waitDead(w.orphanPid()), "the wrapper's child was ended with its group");
  }
});

test("a --python that answers but leaves a child holding the pipe is not waited on", async () => {
  const w = wrapper(`exec python3 -S "$@"`); // -S: no site-packages, so no vLLM
  const started = Date.now();
  const r = await cli(["patch", "check", "--python", w.python], { MOE_PROF_PYTHON_TIMEOUT_S: "120" });
  assert.equal(r.exitCode, 2);
  assert.match(r.stderr, /^moe-prof: vLLM is not installed for /);
  assert.ok(Date.now() - started < 15_000, `took ${Date.now() - started} ms`);
  assert.ok(await waitDead(w.orphanPid()), "what it left behind was ended");
});

test("--python that is a directory: one line, exit 2, no script text, no 'undefined'", async () => {
  for (const args of [
    ["patch", "check"],
    ["run", "--engine", "hf", "--out", path.join(tempDir(), "out")],
  ]) {
    const r = await cli([...args, "--python", "/tmp"]);
    assert.equal(r.exitCode, 2, r.stderr);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(
      r.stderr,
      /^moe-prof: \/tmp cannot be run \(EACCES: a directory, or a file without execute permission\)/,
    );
    assert.doesNotMatch(r.stderr, /undefined|importlib/);
  }
});

test("output directories on kernel filesystems are refused at once (exit 2), nothing made", async () => {
  const log = path.join(FIXTURES, "seed-schema.jsonl");
  for (const out of ["/proc/moe-prof-test/x", "/sys/moe-prof-test", "/dev/moe-prof-test/out"]) {
    for (const args of [
      ["hist", log, "--out", out],
      ["run", "--out", out],
    ]) {
      const started = Date.now();
      const r = await cli(args);
      assert.equal(r.exitCode, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(
        r.stderr,
        /^moe-prof: --out .*: is under \/(proc|sys|dev), a kernel filesystem, not a place for output files$/,
      );
      assert.ok(Date.now() - started < 10_000);
    }
    assert.equal(existsSync(out), false);
  }
  // a symlink into /proc is the same place
  const link = path.join(tempDir(), "to-proc");
  await execa("ln", ["-s", "/proc/self", link]);
  const r = await cli(["hist", log, "--out", path.join(link, "x")]);
  assert.equal(r.exitCode, 2);
  assert.match(r.stderr, /kernel filesystem/);
});
