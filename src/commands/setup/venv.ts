// The virtualenv of `moe-prof setup`: a Python 3.12 found or named, ./.venv created (or reused), requirements-lock.txt
// (vllm==0.15.1 and its pinned stack) installed into it.
import { existsSync, readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { envError, fsProblem, UserError, EXIT_INTERRUPTED } from "../../errors.js";
import { packageRoot } from "../../config/package-info.js";

/** Quick questions (is uv there, which Python version): seconds. */
const QUERY_TIMEOUT_MS = 30_000;

// run-bounded (and execa under it) is loaded when setup runs, not at start-up.
const bounded = () => import("../../worker/run-bounded.js");

async function has(cmd: string, args: string[]): Promise<boolean> {
  const { runBounded } = await bounded();
  const r = await runBounded(cmd, args, { timeoutMs: QUERY_TIMEOUT_MS });
  return r.exitCode === 0;
}

async function step(title: string, cmd: string, args: string[], o: { hint?: string } = {}): Promise<void> {
  process.stderr.write(`moe-prof setup: ${title}\n  $ ${[cmd, ...args].join(" ")}\n`);
  const { runBounded, timeoutFromEnv } = await bounded();
  // Downloading the CUDA wheels (~3 GB) on a slow link takes long; a stalled one must not hang forever.
  const timeoutMs = timeoutFromEnv("MOE_PROF_SETUP_TIMEOUT_S", 7200);
  const r = await runBounded(cmd, args, { stdio: "inherit", timeoutMs });
  if (r.interrupted) throw new UserError(`setup interrupted during: ${title}`, EXIT_INTERRUPTED);
  if (r.timedOut)
    throw envError(
      `setup step took longer than ${timeoutMs / 1000} s and was stopped (${title}); set MOE_PROF_SETUP_TIMEOUT_S to allow more`,
    );
  if (r.spawnError)
    throw envError(`setup step failed (${title}): \`${cmd}\` cannot be run: ${fsProblem({ code: r.spawnError })}`);
  if (r.exitCode !== 0)
    throw envError(
      `setup step failed (${title}): \`${cmd}\` exited with ${r.exitCode ?? r.signal}${o.hint ? `; ${o.hint}` : ""}`,
    );
}

export interface SetupOptions {
  venv: string;
  /** the hashed lock to install (a supported vLLM release's, vllm-versions.ts) */
  lock: string;
  /** Interpreter to make the venv from; default python3.12, else python3 if that is 3.12, else one
   * of installedPython312s(). */
  basePython?: string | undefined;
  /** Where installed Pythons are looked for (tests point it at a made-up home). */
  places?: PythonPlaces;
}

export interface PythonPlaces {
  env: NodeJS.ProcessEnv;
  home: string;
  /** Searched last for python3.12. */
  systemDirs: string[];
}

const defaultPlaces = (): PythonPlaces => ({
  env: process.env,
  home: os.homedir(),
  systemDirs: ["/usr/local/bin", "/usr/bin"],
});

/** Where a Python 3.12 may be installed besides PATH, in the order they are tried: pyenv's versions
 * (whose shims answer only for the selected version), uv's own Pythons, asdf's, conda's base and
 * environments, and the usual system locations. Only those that exist are returned. */
export function installedPython312s({ env, home, systemDirs }: PythonPlaces = defaultPlaces()): string[] {
  const out: string[] = [];
  const versionsIn = (dir: string, pattern: RegExp, bin: string) => {
    try {
      for (const v of readdirSync(dir)
        .filter((d) => pattern.test(d))
        .sort()
        .reverse())
        out.push(path.join(dir, v, bin));
    } catch {
      /* not installed */
    }
  };
  versionsIn(path.join(env.PYENV_ROOT ?? path.join(home, ".pyenv"), "versions"), /^3\.12(\.|$)/, "bin/python3.12");
  versionsIn(
    env.UV_PYTHON_INSTALL_DIR ?? path.join(env.XDG_DATA_HOME ?? path.join(home, ".local", "share"), "uv", "python"),
    /^cpython-3\.12\./,
    "bin/python3.12",
  );
  versionsIn(
    path.join(env.ASDF_DATA_DIR ?? path.join(home, ".asdf"), "installs", "python"),
    /^3\.12(\.|$)/,
    "bin/python3.12",
  );
  for (const conda of ["miniforge3", "miniconda3", "anaconda3"].map((d) => path.join(home, d)).concat("/opt/conda")) {
    out.push(path.join(conda, "bin", "python3.12"));
    versionsIn(path.join(conda, "envs"), /./, "bin/python3.12");
  }
  for (const d of systemDirs) out.push(path.join(d, "python3.12"));
  return out.filter((p) => existsSync(p));
}

const VERSION_SCRIPT = "import sys; print('%d.%d' % sys.version_info[:2])";

/** "3.12", or why not: "Python 3.11", "not found", "cannot be run: permission denied (EACCES)", "did not answer". */
async function pythonVersion(py: string): Promise<{ ok: boolean; what: string }> {
  const { runBounded } = await bounded();
  const v = await runBounded(py, ["-c", VERSION_SCRIPT], { timeoutMs: QUERY_TIMEOUT_MS });
  if (v.exitCode === 0) {
    const ver = String(v.stdout).trim();
    return { ok: ver === "3.12", what: `Python ${ver}` };
  }
  if (v.spawnError && v.spawnError !== "ENOENT")
    return { ok: false, what: `cannot be run: ${fsProblem({ code: v.spawnError })}` };
  return { ok: false, what: v.timedOut ? "did not answer" : "not found" };
}

export interface PythonSearch {
  /** The Python 3.12 to use; null when none. */
  found: string | null;
  /** Every interpreter asked that does not do, with why ("python3: Python 3.11"). */
  seen: string[];
}

/** requirements-lock.txt is resolved for CPython 3.12: find one (the given one must be 3.12). */
export async function findPython312(
  given: string | undefined,
  places: PythonPlaces = defaultPlaces(),
): Promise<PythonSearch> {
  const seen: string[] = [];
  for (const py of given ? [given] : ["python3.12", "python3", ...installedPython312s(places)]) {
    const v = await pythonVersion(py);
    if (v.ok) return { found: py, seen };
    if (given || v.what !== "not found" || !py.includes(path.sep)) seen.push(`${py}: ${v.what}`);
  }
  return { found: null, seen };
}

/** The installed Pythons 3.12 that --base-python could name (each asked: a broken one is left out). */
async function workingPython312s(places: PythonPlaces): Promise<string[]> {
  const out: string[] = [];
  for (const py of installedPython312s(places)) if ((await pythonVersion(py)).ok) out.push(py);
  return out;
}

const searched = (places: PythonPlaces) =>
  `PATH, pyenv, uv's and asdf's Pythons, conda, ${places.systemDirs.join(", ")}`;

/** An existing venv is reused only if it runs Python 3.12 (the lock's wheels are cp312). */
async function checkReusedVenv(venv: string, venvPython: string): Promise<void> {
  const v = await pythonVersion(venvPython);
  if (!v.ok)
    throw envError(
      `--venv ${venv} exists with ${v.what === "not found" ? "a Python that is not found" : v.what} (${venvPython}); requirements-lock.txt needs Python 3.12: delete it, or pass another --venv`,
    );
}

async function createVenv(opts: SetupOptions, useUv: boolean): Promise<void> {
  const places = opts.places ?? defaultPlaces();
  const { found, seen } = await findPython312(opts.basePython, places);
  if (opts.basePython && !found) {
    const others = await workingPython312s(places);
    const what = seen[0]!.slice(opts.basePython.length + 2); // "Python 3.11", "not found", ...
    throw envError(
      (what.startsWith("Python ")
        ? `--base-python ${opts.basePython} is ${what}`
        : `--base-python ${opts.basePython}: ${what}`) +
        "; requirements-lock.txt is resolved for Python 3.12" +
        (others.length ? `; Python 3.12 here: ${others.join(", ")}` : ""),
    );
  }
  if (found && useUv) return step("create virtualenv (uv)", "uv", ["venv", "--python", found, opts.venv]);
  if (found) return step("create virtualenv", found, ["-m", "venv", opts.venv]);
  const none = `no Python 3.12 found (${seen.join("; ") || "no Python at all"}; looked in ${searched(places)})`;
  if (!useUv)
    throw envError(
      `requirements-lock.txt is resolved for Python 3.12 and ${none}: pass --base-python PATH, or install uv (it fetches 3.12 when it has network)`,
    );
  await step("create virtualenv (uv fetches Python 3.12)", "uv", ["venv", "--python", "3.12", opts.venv], {
    hint: `${none}, and uv could not fetch one (offline?): pass --base-python PATH to a Python 3.12`,
  });
}

/**
 * Installs a complete hashed lock (`uv pip compile --generate-hashes`: every package of the
 * environment pinned with its hashes) into the venv of `venvPython`. pip gets `--no-deps`: it then
 * installs exactly the lock's lines and resolves nothing. Without it pip also walks each
 * package's own requirements, and in --require-hashes mode refuses any that is not pinned with
 * ==, an extra included: `uvicorn[standard]>=0.15.0 (from fastapi-cli)` stopped the install
 * although the lock pins uvicorn==0.54.0 and every package of its extra. `pip check` then
 * confirms that the lock was complete (that every installed package's requirements are met).
 */
export async function installLock(venvPython: string, lock: string, useUv: boolean): Promise<void> {
  // requirements-lock.txt, python/requirements-lock-vllm-0.20.2.txt; a lock elsewhere by its full path
  const rel = path.relative(packageRoot(), lock);
  const name = rel.startsWith("..") ? lock : rel;
  if (useUv) {
    await step(`install ${name} (uv)`, "uv", [
      "pip",
      "install",
      "--python",
      venvPython,
      "--require-hashes",
      "-r",
      lock,
    ]);
    return;
  }
  await step(`install ${name}`, venvPython, ["-m", "pip", "install", "--require-hashes", "--no-deps", "-r", lock]);
  await step(`check that ${name} was complete`, venvPython, ["-m", "pip", "check"], {
    hint: `${name} lacks a package that another one needs: the lock is incomplete`,
  });
}

export async function setupVenv(opts: SetupOptions): Promise<string> {
  const lock = opts.lock;
  const venvPython = path.join(opts.venv, "bin", "python");
  const useUv = await has("uv", ["--version"]);
  if (existsSync(venvPython)) {
    await checkReusedVenv(opts.venv, venvPython);
    process.stderr.write(
      `moe-prof setup: reusing ${opts.venv}: the lock is installed into it (only what differs changes); delete it for a fresh one\n`,
    );
  } else {
    await createVenv(opts, useUv);
  }
  await installLock(venvPython, lock, useUv);
  return venvPython;
}
