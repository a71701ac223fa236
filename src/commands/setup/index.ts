// `moe-prof setup`: ./.venv with requirements-lock.txt (vllm==0.15.1 and its pinned stack), then the patch.
import path from "node:path";
import { defaultPython } from "../../config/python.js";
import { setupVenv } from "./venv.js";
import { runPatch } from "../patch/index.js";

/** `moe-prof setup`: what the command does once commander has parsed it (cli.ts). */
export async function setupCommand(o: { venv: string; basePython?: string }): Promise<void> {
  const python = await setupVenv({ venv: path.resolve(o.venv), basePython: o.basePython });
  await runPatch("apply", python, (line) => process.stderr.write(`moe-prof setup: ${line}\n`));
  // run finds ./.venv by itself; any other --venv has to be named
  const runWith = defaultPython() === python ? "`moe-prof run` uses" : "run with `moe-prof run --python";
  process.stderr.write(`moe-prof setup: ready. ${runWith} ${python}${runWith.endsWith("uses") ? "" : "`"}\n`);
}
