// `moe-prof setup` without the 10 GB install: stand-in interpreters and a stand-in uv (shell
// scripts that log how they were called) show which Python it picks, what it runs with and
// without uv, when it reuses a venv, and what it says when no Python 3.12 will do.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { tempDir, ROOT } from "./helpers.js";
import { setupVenv, installedPython312s, type PythonPlaces } from "../src/commands/setup/venv.js";
import { UserError } from "../src/errors.js";

const LOCK = path.join(ROOT, "requirements-lock.txt");

/** A made-up machine: a home, a PATH directory, a log of every call a stand-in received. */
function machine() {
  const root = tempDir();
  const home = path.join(root, "home");
  const bin = path.join(root, "bin");
  const log = path.join(root, "calls.log");
  mkdirSync(home, { recursive: true });
  mkdirSync(bin);
  writeFileSync(log, "");
  const script = (file: string, body: string) => {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `#!/bin/sh\nPATH=/usr/bin:/bin\necho "$0 $*" >> ${log}\n${body}\n`);
    chmodSync(file, 0o755);
    return file;
  };
  /** A Python that answers the version question, makes a venv (whose python is one like it), and
   * pip-installs nothing, but answers as pip 23-25 do for the lock: with --require-hashes and
   * without --no-deps pip resolves each package's requirements and refuses fastapi-cli's unpinned
   * extra; `pip check` finds the lock complete unless <venv>/broken exists. */
  const python = (file: string, version: string): string =>
    script(
      file,
      `case "$1" in
  -c) echo ${version} ;;
  -m) if [ "$2" = venv ]; then mkdir -p "$3/bin"; cp "$0" "$3/bin/python"; fi
      if [ "$2" = pip ] && [ "$3" = install ]; then
        case " $* " in *" --no-deps "*) ;; *)
          echo "ERROR: In --require-hashes mode, all requirements must have their versions pinned with ==. These do not:" >&2
          echo "    uvicorn[standard]>=0.15.0 (from fastapi-cli==0.0.34)" >&2; exit 1 ;;
        esac
      fi
      if [ "$2" = pip ] && [ "$3" = check ]; then
        if [ -e "$(dirname "$0")/../broken" ]; then echo "fastapi-cli 0.0.34 requires rich-toolkit, which is not installed."; exit 1; fi
        echo "No broken requirements found."
      fi ;;
esac`,
    );
  const py312 = python(path.join(root, "store", "py312"), "3.12");
  /** uv: --version; venv --python P DIR (P = 3.12 needs the network: offline fails); pip install. */
  const uv = (offline: boolean) =>
    script(
      path.join(bin, "uv"),
      `case "$1" in
  --version) echo "uv 0.0.0" ;;
  venv) if [ "$3" = 3.12 ] && [ ${offline ? 1 : 0} = 1 ]; then echo "error: No interpreter found for Python 3.12 in managed installations or search path" >&2; exit 2; fi
        mkdir -p "$4/bin"; cp ${py312} "$4/bin/python" ;;
esac`,
    );
  const places: PythonPlaces = {
    env: { PYENV_ROOT: path.join(home, ".pyenv") },
    home,
    systemDirs: [path.join(root, "usr-bin")],
  };
  const calls = () =>
    readFileSync(log, "utf8")
      .trim()
      .split("\n")
      .filter((l) => l && !l.includes(" -c import sys") && !l.endsWith(" --version"))
      .map((l) => l.replaceAll(root, "<m>").replaceAll(LOCK, "<lock>"));
  return { root, home, bin, python, uv, places, calls, venv: path.join(root, "venv") };
}

/** setupVenv with PATH = the made-up machine's bin only (sh itself is found by its absolute path). */
async function setup(m: ReturnType<typeof machine>, basePython?: string): Promise<string> {
  const saved = process.env.PATH;
  process.env.PATH = m.bin;
  try {
    return await setupVenv({ venv: m.venv, basePython, places: m.places, lock: LOCK });
  } finally {
    process.env.PATH = saved;
  }
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof UserError && e.exitCode === 2, String(e));
    assert.ok(!e.message.includes("\n"));
    return e.message;
  }
  assert.fail("expected a refusal");
}

test("--base-python with uv: the venv is made from that Python (uv venv --python PATH), never a download", async () => {
  const m = machine();
  m.uv(true);
  const base = m.python(path.join(m.root, "opt", "python3.12"), "3.12");
  assert.equal(await setup(m, base), path.join(m.venv, "bin", "python"));
  assert.deepEqual(m.calls(), [
    "<m>/bin/uv venv --python <m>/opt/python3.12 <m>/venv",
    "<m>/bin/uv pip install --python <m>/venv/bin/python --require-hashes -r <lock>",
  ]);
});

test("--base-python without uv: python -m venv, then the venv's pip installs the lock", async () => {
  const m = machine();
  const base = m.python(path.join(m.root, "opt", "python3.12"), "3.12");
  await setup(m, base);
  assert.deepEqual(m.calls(), [
    "<m>/opt/python3.12 -m venv <m>/venv",
    "<m>/venv/bin/python -m pip install --require-hashes --no-deps -r <lock>",
    "<m>/venv/bin/python -m pip check",
  ]);
});

test("without --base-python: pyenv's 3.12 is found when python3 is another version, and given to uv", async () => {
  const m = machine();
  m.python(path.join(m.bin, "python3"), "3.11");
  m.python(path.join(m.home, ".pyenv", "versions", "3.12.1", "bin", "python3.12"), "3.12");
  m.python(path.join(m.home, ".pyenv", "versions", "3.13.0", "bin", "python3.12"), "3.13"); // not a 3.12 directory: not asked
  m.uv(true);
  await setup(m);
  assert.equal(m.calls()[0], "<m>/bin/uv venv --python <m>/home/.pyenv/versions/3.12.1/bin/python3.12 <m>/venv");
});

test("the places searched: pyenv, uv's Pythons, asdf, conda base and environments, system directories; only those that exist", () => {
  const m = machine();
  const made = [
    path.join(m.home, ".pyenv", "versions", "3.12.9", "bin", "python3.12"),
    path.join(m.home, ".pyenv", "versions", "3.12.1", "bin", "python3.12"),
    path.join(m.home, ".local", "share", "uv", "python", "cpython-3.12.7-linux-x86_64-gnu", "bin", "python3.12"),
    path.join(m.home, ".asdf", "installs", "python", "3.12.4", "bin", "python3.12"),
    path.join(m.home, "miniconda3", "bin", "python3.12"),
    path.join(m.home, "miniconda3", "envs", "py312", "bin", "python3.12"),
    path.join(m.root, "usr-bin", "python3.12"),
  ];
  for (const f of made) m.python(f, "3.12");
  m.python(
    path.join(m.home, ".local", "share", "uv", "python", "cpython-3.11.9-linux-x86_64-gnu", "bin", "python3.12"),
    "3.11",
  );
  assert.deepEqual(installedPython312s(m.places), made);
});

test("a --base-python that is not 3.12, or not there: named, with the Pythons 3.12 that would do", async () => {
  const m = machine();
  const old = m.python(path.join(m.root, "opt", "python3.11"), "3.11");
  m.python(path.join(m.home, ".pyenv", "versions", "3.12.1", "bin", "python3.12"), "3.12");
  m.python(path.join(m.home, "miniforge3", "envs", "tools", "bin", "python3.12"), "3.12");
  const would = `; Python 3.12 here: ${m.home}/.pyenv/versions/3.12.1/bin/python3.12, ${m.home}/miniforge3/envs/tools/bin/python3.12`;
  assert.equal(
    await refusal(setup(m, old)),
    `--base-python ${old} is Python 3.11; requirements-lock.txt is resolved for Python 3.12${would}`,
  );
  const gone = path.join(m.root, "nowhere", "python3.12");
  assert.equal(
    await refusal(setup(m, gone)),
    `--base-python ${gone}: not found; requirements-lock.txt is resolved for Python 3.12${would}`,
  );
  assert.equal(existsSync(m.venv), false);
});

test("no Python 3.12 anywhere: without uv the message lists what it saw and where it looked; with uv offline, the same and --base-python", async () => {
  const m = machine();
  m.python(path.join(m.bin, "python3"), "3.11");
  m.python(path.join(m.home, ".pyenv", "versions", "3.12.1", "bin", "python3.12"), "3.13"); // a broken pyenv version is named
  const seen = `python3.12: not found; python3: Python 3.11; ${m.home}/.pyenv/versions/3.12.1/bin/python3.12: Python 3.13; looked in PATH, pyenv, uv's and asdf's Pythons, conda, ${m.root}/usr-bin`;
  assert.equal(
    await refusal(setup(m)),
    `requirements-lock.txt is resolved for Python 3.12 and no Python 3.12 found (${seen}): pass --base-python PATH, or install uv (it fetches 3.12 when it has network)`,
  );
  m.uv(true);
  assert.equal(
    await refusal(setup(m)),
    `setup step failed (create virtualenv (uv fetches Python 3.12)): \`uv\` exited with 2; no Python 3.12 found (${seen}), and uv could not fetch one (offline?): pass --base-python PATH to a Python 3.12`,
  );
  assert.deepEqual(m.calls(), ["<m>/bin/uv venv --python 3.12 <m>/venv"]);
});

test("an existing --venv is reused when it runs Python 3.12 (the lock installed into it), refused otherwise", async () => {
  const m = machine();
  m.python(path.join(m.venv, "bin", "python"), "3.12");
  await setup(m);
  assert.deepEqual(m.calls(), [
    "<m>/venv/bin/python -m pip install --require-hashes --no-deps -r <lock>",
    "<m>/venv/bin/python -m pip check",
  ]);
  m.python(path.join(m.venv, "bin", "python"), "3.11");
  assert.equal(
    await refusal(setup(m)),
    `--venv ${m.venv} exists with Python 3.11 (${m.venv}/bin/python); requirements-lock.txt needs Python 3.12: delete it, or pass another --venv`,
  );
});

test("without uv, a lock that is not complete fails setup at pip check, in one line; another lock can be named", async () => {
  const m = machine();
  m.python(path.join(m.venv, "bin", "python"), "3.12");
  writeFileSync(path.join(m.venv, "broken"), "");
  assert.equal(
    await refusal(setup(m)),
    "setup step failed (check that requirements-lock.txt was complete): `" +
      `${m.venv}/bin/python\` exited with 1; requirements-lock.txt lacks a package that another one needs: the lock is incomplete`,
  );
  const other = path.join(m.root, "other-lock.txt");
  writeFileSync(other, "");
  const saved = process.env.PATH;
  process.env.PATH = m.bin;
  try {
    await assert.rejects(
      setupVenv({ venv: m.venv, places: m.places, lock: other }),
      /check that \/\S*\/other-lock\.txt was complete/,
    );
  } finally {
    process.env.PATH = saved;
  }
  assert.ok(m.calls().includes("<m>/venv/bin/python -m pip install --require-hashes --no-deps -r <m>/other-lock.txt"));
});
