// Where the interpreter's vLLM lives, read from its dist-info through importlib.metadata:
// importing vllm itself would need its GPU stack.
import { existsSync } from "node:fs";
import path from "node:path";
import { envError, UserError, EXIT_INTERRUPTED } from "../errors.js";
import { lastLine, pythonSpawnProblem } from "../config/python.js";
import { runBounded, timeoutFromEnv } from "../worker/run-bounded.js";
import { DEFAULT_VLLM_VERSION, supportedList, supportedVllm, type SupportedVllm } from "./vllm-versions.js";

export interface VllmInstall {
  python: string;
  version: string;
  /** the supported release this install is (its patch and lock) */
  supported: SupportedVllm;
  /** the directory that holds vllm/ (site-packages) */
  root: string;
}

const PROBE = `
import importlib.metadata as md, json, sys
try:
    d = md.distribution("vllm")
except md.PackageNotFoundError:
    print(json.dumps({"missing": True})); sys.exit(0)
print(json.dumps({"version": d.version, "root": str(d.locate_file(""))}))
`;

export async function locateVllm(python: string): Promise<VllmInstall> {
  const timeoutMs = timeoutFromEnv("MOE_PROF_PYTHON_TIMEOUT_S", 60);
  const r = await runBounded(python, ["-c", PROBE], { timeoutMs });
  if (r.spawnError) throw envError(pythonSpawnProblem(python, r.spawnError));
  if (r.interrupted) throw new UserError(`interrupted while asking ${python} where vLLM is`, EXIT_INTERRUPTED);
  if (r.timedOut)
    throw envError(
      `${python} did not answer the vLLM lookup within ${timeoutMs / 1000} s (stopped it and its children)`,
    );
  if (r.exitCode !== 0) {
    const why = lastLine(r.stderr) || (r.signal ? `killed by ${r.signal}` : `exit code ${r.exitCode}`);
    throw envError(`${python} could not run the vLLM lookup: ${why}`);
  }
  const stdout = r.stdout;
  let info: { missing?: boolean; version?: string; root?: string };
  try {
    info = JSON.parse(stdout.trim().split("\n").pop() ?? "") as typeof info;
  } catch {
    throw envError(`${python}: unexpected output from the vLLM lookup: ${JSON.stringify(stdout.slice(0, 200))}`);
  }
  if (info.missing || !info.version || !info.root) {
    throw envError(
      `vLLM is not installed for ${python} (install vllm==${DEFAULT_VLLM_VERSION}, e.g. \`moe-prof setup\`)`,
    );
  }
  const supported = supportedVllm(info.version);
  if (!supported) throw envError(unsupportedVllm(info.version, python));
  if (!existsSync(path.join(info.root, "vllm"))) {
    throw envError(`vLLM ${info.version}'s metadata points at ${info.root}, which holds no vllm/ directory`);
  }
  return { python, version: info.version, root: info.root, supported };
}

/** The one message for an installed vLLM that moe-prof has no patch for. */
export function unsupportedVllm(version: string, python: string): string {
  return `vLLM ${version} is installed for ${python}, but moe-prof supports vLLM ${supportedList()} only: run \`moe-prof setup --vllm VERSION\` (a venv with one of them), or pass --python PATH to one`;
}
