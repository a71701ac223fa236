// `moe-prof setup`: ./.venv with a supported vLLM release's lock (default vllm==0.15.1 and its
// pinned stack, requirements-lock.txt; --vllm 0.20.2: python/requirements-lock-vllm-0.20.2.txt), then the patch.
import path from "node:path";
import { defaultPython } from "../../config/python.js";
import { envError } from "../../errors.js";
import { supportedList, supportedVllm, vllmLockPath } from "../../patch/vllm-versions.js";
import { setupVenv } from "./venv.js";
import { runPatch } from "../patch/index.js";

/** `moe-prof setup`: what the command does once commander has parsed it (cli.ts). */
export async function setupCommand(o: { venv: string; basePython?: string; vllm: string }): Promise<void> {
  const release = supportedVllm(o.vllm);
  if (!release) throw envError(`--vllm: moe-prof supports vLLM ${supportedList()}, not ${JSON.stringify(o.vllm)}`);
  const python = await setupVenv({ venv: path.resolve(o.venv), basePython: o.basePython, lock: vllmLockPath(release) });
  await runPatch("apply", python, (line) => process.stderr.write(`moe-prof setup: ${line}\n`));
  // run finds ./.venv by itself; any other --venv has to be named
  const runWith = defaultPython() === python ? "`moe-prof run` uses" : "run with `moe-prof run --python";
  process.stderr.write(`moe-prof setup: ready. ${runWith} ${python}${runWith.endsWith("uses") ? "" : "`"}\n`);
}
