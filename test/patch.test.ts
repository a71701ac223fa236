// `moe-prof patch` on an installed-looking copy of the real vllm==0.15.1 wheel's files
// (dist-info + the sources the patch touches), found through a real Python's importlib.metadata.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, cp, readFile, rm, stat, writeFile, appendFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { runPatch } from "../src/commands/patch/index.js";
import { UserError, EXIT_ENV } from "../src/errors.js";
import { writeFailure } from "../src/patch/file-transaction.js";
import { ROOT, tempDir } from "./helpers.js";
import {
  FILES,
  FILES_0_20_2,
  PATCH,
  PATCH_0_20_2,
  site,
  skipWithoutWheel,
  skipWithoutWheel0202,
  snapshot,
} from "./patch-site.js";

const skip = skipWithoutWheel;

async function run(action: "apply" | "check" | "revert", python: string): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await runPatch(action, python, (l) => lines.push(l));
  return { code, lines };
}

test("apply, check, idempotent apply, revert to byte-identical files", { skip }, async () => {
  const { dir, python } = await site();
  const before = await snapshot(dir);
  assert.equal((await run("check", python)).code, 1);
  const a = await run("apply", python);
  assert.equal(a.code, 0);
  assert.match(a.lines[0]!, /^patched vLLM 0\.15\.1 in /);

  // the same bytes GNU patch produces from the same file
  const ref = path.join(path.dirname(dir), "ref");
  await cp(FILES!, ref, { recursive: true });
  await execa("patch", ["-p1", "--fuzz=0", "--quiet", "-i", PATCH], { cwd: ref });
  const patched = await snapshot(dir);
  for (const [rel, text] of await snapshot(ref)) assert.equal(patched.get(rel), text, rel);

  await execa(
    "python3",
    [
      "-m",
      "py_compile",
      ...[
        "vllm/model_executor/layers/fused_moe/layer.py",
        "vllm/v1/worker/gpu_model_runner.py",
        "vllm/v1/worker/gpu_worker.py",
        "vllm/moe_prof_capture/glue.py",
        "vllm/moe_prof_capture/capture.py",
      ].map((p) => path.join(dir, p)),
    ],
    { env: { PYTHONPYCACHEPREFIX: path.join(path.dirname(dir), "pyc") } },
  );

  assert.deepEqual(await run("check", python), { code: 0, lines: [`applied: vLLM 0.15.1 in ${dir}`] });
  assert.match((await run("apply", python)).lines[0]!, /^already patched/);
  assert.deepEqual(await snapshot(dir), patched);

  // Python leaves bytecode in the new package; revert removes it with the package
  await mkdir(path.join(dir, "vllm/moe_prof_capture/__pycache__"));
  await writeFile(path.join(dir, "vllm/moe_prof_capture/__pycache__/glue.cpython-312.pyc"), "x");
  assert.equal((await run("revert", python)).code, 0);
  assert.deepEqual(await snapshot(dir), before);
  await assert.rejects(stat(path.join(dir, "vllm/moe_prof_capture")));
  assert.match((await run("revert", python)).lines[0]!, /^not patched, nothing to revert/);
});

test("a file changed by something else is reported as conflicting and left alone", { skip }, async () => {
  const { dir, python } = await site();
  await run("apply", python);
  await appendFile(path.join(dir, "vllm/v1/worker/gpu_worker.py"), "# local edit\n");
  const state = await snapshot(dir);
  const c = await run("check", python);
  assert.equal(c.code, 2);
  assert.match(c.lines[0]!, /^conflicting: .*vllm\/v1\/worker\/gpu_worker\.py \(changed by something else\)/);
  for (const action of ["apply", "revert"] as const) {
    await assert.rejects(
      run(action, python),
      (e: unknown) => e instanceof UserError && e.exitCode === EXIT_ENV && /gpu_worker\.py/.test(e.message),
    );
  }
  assert.deepEqual(await snapshot(dir), state);
});

test("a failing apply leaves every file as it was", { skip }, async () => {
  const { dir, python } = await site();
  // a plain file where the patch must create its package directory: writing fails midway
  await writeFile(path.join(dir, "vllm/moe_prof_capture"), "in the way\n");
  const before = await snapshot(dir);
  await assert.rejects(run("apply", python));
  assert.deepEqual(await snapshot(dir), before);
});

test(
  "vLLM 0.20.2: the patch of the installed release is chosen, applies like GNU patch, reverts byte-identical",
  {
    skip: skipWithoutWheel0202,
  },
  async () => {
    const { dir, python } = await site(FILES_0_20_2);
    const before = await snapshot(dir);
    const a = await run("apply", python);
    assert.deepEqual(a, { code: 0, lines: [`patched vLLM 0.20.2 in ${dir}`] });
    const ref = path.join(path.dirname(dir), "ref");
    await cp(FILES_0_20_2!, ref, { recursive: true });
    await execa("patch", ["-p1", "--fuzz=0", "--quiet", "-i", PATCH_0_20_2], { cwd: ref });
    const patched = await snapshot(dir);
    for (const [rel, text] of await snapshot(ref)) assert.equal(patched.get(rel), text, rel);
    // its own adapter only, and the call site in MoERunner (0.20.2 has no routing in FusedMoE)
    assert.ok(patched.has("vllm/moe_prof_capture/vllm_adapters/v0_20_2.py"));
    assert.ok(!patched.has("vllm/moe_prof_capture/vllm_adapters/v0_15_1.py"));
    assert.match(patched.get("vllm/model_executor/layers/fused_moe/runner/moe_runner.py")!, /moe_prof_glue\.record\(/);
    assert.deepEqual(await run("check", python), { code: 0, lines: [`applied: vLLM 0.20.2 in ${dir}`] });
    assert.equal((await run("revert", python)).code, 0);
    assert.deepEqual(await snapshot(dir), before);
  },
);

test("refuses a vLLM release it has no patch for, naming it and the supported ones", { skip }, async () => {
  const { dir, python } = await site();
  const meta = path.join(dir, "vllm-0.15.1.dist-info/METADATA");
  await writeFile(meta, (await readFile(meta, "utf8")).replace(/^Version: 0\.15\.1$/m, "Version: 0.15.0"));
  await assert.rejects(
    run("check", python),
    (e: unknown) =>
      e instanceof UserError &&
      e.exitCode === EXIT_ENV &&
      /vLLM 0\.15\.0 is installed .*, but moe-prof supports vLLM 0\.15\.1 or 0\.20\.2 only/.test(e.message),
  );
});

test("no vLLM and no interpreter are one-line environment errors", async () => {
  const base = tempDir();
  const python = path.join(base, "python");
  await writeFile(python, `#!/bin/sh\nexec python3 -S "$@"\n`); // -S: no site-packages, so no vllm
  await chmod(python, 0o755);
  await assert.rejects(
    run("check", python),
    (e: unknown) => e instanceof UserError && /vLLM is not installed for /.test(e.message),
  );
  await assert.rejects(
    run("check", path.join(base, "missing")),
    (e: unknown) => e instanceof UserError && /^Python not found: /.test(e.message),
  );
  const cli = await execa("node", [path.join(ROOT, "dist/src/cli.js"), "patch", "check", "--python", python], {
    reject: false,
  });
  assert.equal(cli.exitCode, 2);
  assert.equal(cli.stderr.trim().split("\n").length, 1);
  await rm(base, { recursive: true, force: true });
});

test("read-only site-packages maps to an environment error", () => {
  for (const code of ["EROFS", "EACCES", "EPERM"]) {
    const err = Object.assign(new Error("x"), { code });
    const e = writeFailure("/sp", err);
    assert.ok(e instanceof UserError && e.exitCode === EXIT_ENV && /cannot write to \/sp .*read-only/.test(e.message));
  }
});

test(
  "an install patched by another moe-prof version: check says so (1), apply replaces it, revert restores the original bytes",
  { skip },
  async () => {
    const { applyPatch, loadPatch } = await import("../src/patch/vllm-patch.js");
    const { supportedVllm } = await import("../src/patch/vllm-versions.js");
    const { parseUnifiedDiff } = await import("../src/patch/unified-diff.js");
    const { dir, python } = await site();
    const before = await snapshot(dir);
    // An older patch: another glue (one added line differs) and no edits of vllm/v1/engine/core.py.
    const text = await readFile(PATCH, "utf8");
    const blocks = text.split(/^(?=--- (?:a\/|\/dev\/null))/m);
    const older = blocks
      .filter((b) => !b.startsWith("--- a/vllm/v1/engine/core.py"))
      .map((b) =>
        b.includes("+++ b/vllm/moe_prof_capture/glue.py")
          ? b.replace("+SHUTDOWN_WAIT_S = 3.0", "+SHUTDOWN_WAIT_S = 9.0")
          : b,
      )
      .join("");
    assert.notEqual(older, text);
    await applyPatch(dir, { version: "0.15.1", files: parseUnifiedDiff(older, "older.patch") });
    assert.equal((await snapshot(dir)).get("vllm/v1/engine/core.py"), before.get("vllm/v1/engine/core.py"));

    const c = await run("check", python);
    assert.equal(c.code, 1);
    assert.match(
      c.lines.at(-1)!,
      /carries the patch of another moe-prof version \(run `moe-prof patch apply` to replace it\)$/,
    );
    const a = await run("apply", python);
    assert.equal(a.code, 0);
    assert.deepEqual(a.lines, ["removed the patch of another moe-prof version", `patched vLLM 0.15.1 in ${dir}`]);
    assert.equal((await run("check", python)).code, 0);
    const current = await loadPatch(supportedVllm("0.15.1")!);
    assert.ok(current.files.length > 0);

    // revert from another version's patch: the pip-installed bytes again
    await run("revert", python);
    await applyPatch(dir, { version: "0.15.1", files: parseUnifiedDiff(older, "older.patch") });
    assert.equal((await run("revert", python)).code, 0);
    assert.deepEqual(await snapshot(dir), before);
  },
);
