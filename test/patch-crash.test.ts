// `moe-prof patch` is crash-consistent: a patch action is SIGKILLed right after step i of its
// apply or revert transaction, for every i (MOE_PROF_TEST_KILL_AFTER_STEP, see
// src/patch/fault-injection.ts), and the next check must answer applied or not applied with the
// install's bytes exactly the patched or the original ones (no journal, lock or temp file left).
// Also: kills during that recovery, two concurrent CLI runs, mode and owner, an older moe-prof's
// half-patched install. The kill loops run test/stand-ins/patch-driver.ts (no CLI start-up, no
// Python lookup: ~0.2 s a run instead of ~0.7 s); the CLI is killed too, at a few steps.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, chown, cp, readFile, readdir, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { CLI, ROOT, tempDir } from "./helpers.js";
import { FILES, PATCH, site, skipWithoutWheel as skip, snapshot } from "./patch-site.js";
import { acquirePatchLock } from "../src/patch/lock.js";
import { inspectPatch, loadPatch } from "../src/patch/vllm-patch.js";
import { supportedVllm } from "../src/patch/vllm-versions.js";
import { applyExact, parseUnifiedDiff } from "../src/patch/unified-diff.js";

const DRIVER = path.join(ROOT, "dist/test/stand-ins/patch-driver.js");

type Snap = Map<string, string>;

function patchCli(action: string, python: string, env: Record<string, string> = {}) {
  return execa(process.execPath, [CLI, "patch", action, "--python", python], { reject: false, env, timeout: 60_000 });
}

function driver(action: string, dir: string, env: Record<string, string> = {}) {
  return execa(process.execPath, [DRIVER, action, dir], { reject: false, env, timeout: 60_000 });
}

/** The steps an action takes on a copy of `dir`, by name, in order. */
async function stepNames(action: string, dir: string): Promise<string[]> {
  const copy = await copyOf(dir);
  const log = path.join(tempDir(), "steps.log");
  const r = await driver(action, copy, { MOE_PROF_TEST_STEP_LOG: log });
  assert.equal(r.exitCode, 0, r.stderr);
  return (await readFile(log, "utf8")).trim().split("\n");
}

async function copyOf(dir: string): Promise<string> {
  const to = path.join(tempDir(), "site-packages");
  await cp(dir, to, { recursive: true });
  return to;
}

/** Which of the two states the install is in, or a description of how it differs from both. */
function whichState(now: Snap, pristine: Snap, patched: Snap): string {
  const same = (a: Snap, b: Snap) => a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
  if (same(now, pristine)) return "pristine";
  if (same(now, patched)) return "patched";
  const extra = [...now.keys()].filter((k) => !pristine.has(k) && !patched.has(k));
  const differ = [...now.keys()].filter((k) => now.get(k) !== pristine.get(k) && now.get(k) !== patched.get(k));
  return `neither state: extra ${extra.join(", ") || "-"}; differing ${differ.join(", ") || "-"}`;
}

/** The pristine install, the same install patched, and their snapshots. */
let states: { pristineDir: string; patchedDir: string; pristine: Snap; patched: Snap } | undefined;
async function bothStates(): Promise<NonNullable<typeof states>> {
  if (!states) {
    const pristineDir = await copyOf(FILES!);
    const patchedDir = await copyOf(FILES!);
    assert.equal((await driver("apply", patchedDir)).exitCode, 0);
    states = { pristineDir, patchedDir, pristine: await snapshot(pristineDir), patched: await snapshot(patchedDir) };
  }
  return states;
}

/** After an interruption: check says applied or not applied, matching exactly the bytes on disk. */
async function assertConsistent(dir: string, what: string): Promise<"pristine" | "patched"> {
  const { pristine, patched } = await bothStates();
  const c = await inspectPatch(dir, await loadPatch(supportedVllm("0.15.1")!));
  assert.ok(c.state === "applied" || c.state === "not-applied", `${what}: check says ${c.state}`);
  assert.equal(
    whichState(await snapshot(dir), pristine, patched),
    c.state === "applied" ? "patched" : "pristine",
    `${what}: check says ${c.state}`,
  );
  assert.doesNotMatch(c.notes.join(" "), /could not finish/);
  return c.state === "applied" ? "patched" : "pristine";
}

/** Kills `action` on a copy of `from` after each of its steps and checks what is left. */
async function killAfterEveryStep(action: "apply" | "revert", from: string): Promise<Set<string>> {
  const steps = await stepNames(action, from);
  assert.match(steps.join("\n"), /journal committed/);
  const seen = new Set<string>();
  for (let i = 1; i <= steps.length; i++) {
    const dir = await copyOf(from);
    const r = await driver(action, dir, { MOE_PROF_TEST_KILL_AFTER_STEP: String(i) });
    assert.equal(r.signal, "SIGKILL", `step ${i} (${steps[i - 1]}): ${r.stderr}`);
    seen.add(await assertConsistent(dir, `${action} killed after step ${i} of ${steps.length} (${steps[i - 1]})`));
  }
  return seen;
}

test(
  "apply killed after every step: check answers applied or not, and the bytes are one of the two states",
  { skip, timeout: 300_000 },
  async () => {
    const seen = await killAfterEveryStep("apply", (await bothStates()).pristineDir);
    assert.deepEqual(
      [...seen].sort(),
      ["patched", "pristine"],
      "kills before the commit point roll back, after it forward",
    );
  },
);

test(
  "revert killed after every step: check answers applied or not, and the bytes are one of the two states",
  { skip, timeout: 300_000 },
  async () => {
    const seen = await killAfterEveryStep("revert", (await bothStates()).patchedDir);
    assert.deepEqual([...seen].sort(), ["patched", "pristine"]);
  },
);

test("a recovery killed after each of its own steps is itself recovered", { skip, timeout: 300_000 }, async () => {
  const { pristineDir } = await bothStates();
  const steps = await stepNames("apply", pristineDir);
  // one kill before the commit point (rolled back) and one in the middle of the renames (forward)
  const committed = steps.findIndex((s) => /journal committed/.test(s)) + 1;
  for (const i of [committed - 2, committed + 5]) {
    const interrupted = await copyOf(pristineDir);
    assert.equal((await driver("apply", interrupted, { MOE_PROF_TEST_KILL_AFTER_STEP: String(i) })).signal, "SIGKILL");
    const recovery = await stepNames("check", interrupted);
    assert.ok(recovery.length > 3, recovery.join(","));
    for (let j = 1; j < recovery.length; j++) {
      const dir = await copyOf(interrupted);
      const r = await driver("check", dir, { MOE_PROF_TEST_KILL_AFTER_STEP: String(j) });
      assert.equal(r.signal, "SIGKILL", `recovery step ${j} (${recovery[j - 1]})`);
      await assertConsistent(dir, `apply killed after ${i}, its recovery after ${j} (${recovery[j - 1]})`);
    }
  }
});

test(
  "the CLI killed mid-apply: `moe-prof patch check` exits 0 or 1 and never says reinstall",
  { skip, timeout: 120_000 },
  async () => {
    const { pristineDir, pristine, patched } = await bothStates();
    const steps = await stepNames("apply", pristineDir);
    const committed = steps.findIndex((s) => /journal committed/.test(s)) + 1;
    for (const [i, want] of [
      [1, 1],
      [committed - 1, 1],
      [committed + 3, 0],
      [steps.length - 1, 0],
    ] as const) {
      const { dir, python } = await site();
      const r = await patchCli("apply", python, { MOE_PROF_TEST_KILL_AFTER_STEP: String(i) });
      assert.equal(r.signal, "SIGKILL");
      const c = await patchCli("check", python);
      assert.equal(c.exitCode, want, `killed after step ${i} (${steps[i - 1]}): ${c.stdout}${c.stderr}`);
      assert.doesNotMatch(c.stdout + c.stderr, /reinstall/);
      assert.equal(whichState(await snapshot(dir), pristine, patched), want === 0 ? "patched" : "pristine");
    }
  },
);

test(
  "two concurrent applies, reverts, or an apply racing a revert, end in one state; no temp files",
  { skip, timeout: 120_000 },
  async () => {
    const { pristine, patched } = await bothStates();
    for (let round = 0; round < 4; round++) {
      const { dir, python } = await site();
      const [a, b] = await Promise.all([patchCli("apply", python), patchCli("apply", python)]);
      assert.deepEqual([a.exitCode, b.exitCode], [0, 0], a.stderr + b.stderr);
      assert.deepEqual(
        [a.stdout, b.stdout].map((o) => /^(patched|already patched)/.test(o)),
        [true, true],
      );
      assert.equal(whichState(await snapshot(dir), pristine, patched), "patched");
      const [c, d] = await Promise.all([patchCli("revert", python), patchCli("revert", python)]);
      assert.deepEqual([c.exitCode, d.exitCode], [0, 0], c.stderr + d.stderr);
      assert.equal(whichState(await snapshot(dir), pristine, patched), "pristine");
      const [e, f] = await Promise.all([patchCli("apply", python), patchCli("revert", python)]);
      assert.deepEqual([e.exitCode, f.exitCode], [0, 0], e.stderr + f.stderr);
      await assertConsistent(dir, `round ${round}: apply racing revert`);
    }
  },
);

test("a lock held by a live process is waited for, then named", { skip }, async () => {
  const { dir } = await site();
  const held = await acquirePatchLock(dir, "test-holder");
  await assert.rejects(acquirePatchLock(dir, "second", 300), (e: Error) =>
    new RegExp(`held by moe-prof pid ${process.pid} on `).test(e.message),
  );
  await held.release();
  await (await acquirePatchLock(dir, "third", 300)).release();
});

test(
  "apply and revert keep each file's mode and owner; new files get those of vllm/__init__.py",
  { skip },
  async () => {
    const { dir, python } = await site();
    const layer = path.join(dir, "vllm/model_executor/layers/fused_moe/layer.py");
    const init = path.join(dir, "vllm/__init__.py");
    const asRoot = process.getuid?.() === 0;
    await chmod(layer, 0o640);
    await chmod(init, 0o664);
    if (asRoot) {
      await chown(layer, 1234, 5678);
      await chown(init, 4321, 8765);
    }
    const attrs = async (p: string) => {
      const st = await stat(p);
      return asRoot ? [st.mode & 0o7777, st.uid, st.gid] : [st.mode & 0o7777];
    };
    const layerAttrs = asRoot ? [0o640, 1234, 5678] : [0o640];
    const initAttrs = asRoot ? [0o664, 4321, 8765] : [0o664];
    assert.equal((await patchCli("apply", python)).exitCode, 0);
    assert.deepEqual(await attrs(layer), layerAttrs);
    assert.deepEqual(
      await attrs(path.join(dir, ".moe-prof-vllm-backup/vllm/model_executor/layers/fused_moe/layer.py")),
      layerAttrs,
    );
    assert.deepEqual(await attrs(path.join(dir, "vllm/moe_prof_capture/glue.py")), initAttrs);
    assert.equal((await patchCli("revert", python)).exitCode, 0);
    assert.deepEqual(await attrs(layer), layerAttrs);
  },
);

test(
  "an install an older moe-prof left half-patched, with stray temp files, is finished, never 'reinstall'",
  { skip },
  async () => {
    const { pristine, patched } = await bothStates();
    const patches = parseUnifiedDiff(await readFile(PATCH, "utf8"), PATCH);
    for (const finish of ["apply", "revert"] as const) {
      const { dir, python } = await site();
      // What the old commitChanges left after a SIGKILL midway through its renames: the first
      // modified file and the first new file in place, the others staged beside their targets.
      const [layer, , worker] = patches;
      const rel = layer!.path;
      const text = await readFile(path.join(dir, rel), "utf8");
      await cp(path.join(dir, rel), path.join(dir, ".moe-prof-vllm-backup", rel), { recursive: true });
      await writeFile(path.join(dir, rel), applyExact(text, layer!)!);
      await writeFile(path.join(dir, worker!.path + ".moe-prof-tmp"), "staged\n");
      const c = await patchCli("check", python);
      assert.equal(c.exitCode, 2);
      assert.match(
        c.stdout,
        /^removed 1 temporary file left by an interrupted older moe-prof\npartly applied: .*layer\.py patched .*run `moe-prof patch apply` or `moe-prof patch revert` to finish\n?$/,
      );
      const r = await patchCli(finish, python);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(whichState(await snapshot(dir), pristine, patched), finish === "apply" ? "patched" : "pristine");
      assert.deepEqual(
        (await readdir(dir)).filter((f) => f.startsWith(".moe-prof-vllm") && f !== ".moe-prof-vllm-backup"),
        [],
      );
    }
  },
);
