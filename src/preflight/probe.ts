// Ask the chosen Python for the facts every preflight check reads (python/moe_prof/preflight.py).
import { z } from "zod";
import { envError, UserError, EXIT_INTERRUPTED } from "../errors.js";
import { workerEnv } from "../worker/run-worker.js";
import { runBounded, timeoutFromEnv } from "../worker/run-bounded.js";
import { lastLine, pythonSpawnProblem } from "../config/python.js";

export const pythonFacts = z.object({
  python: z.string(),
  executable: z.string(),
  vllm: z.string().nullable(),
  transformers: z.string().nullable(),
  torch: z.string().nullable(),
  cuda: z
    .object({
      available: z.boolean(),
      error: z.string().optional(),
      devices: z.array(
        z.object({ index: z.number(), name: z.string(), free_bytes: z.number(), total_bytes: z.number() }),
      ),
    })
    .nullable(),
});
export type PythonFacts = z.infer<typeof pythonFacts>;

export async function probePython(python: string): Promise<PythonFacts> {
  const timeoutMs = timeoutFromEnv("MOE_PROF_PYTHON_TIMEOUT_S", 180);
  const r = await runBounded(python, ["-m", "moe_prof.preflight"], { env: workerEnv(), timeoutMs });
  if (r.spawnError === "ENOENT")
    throw envError(`Python not found: ${python}. Run \`moe-prof setup\` to create ./.venv, or pass --python PATH`);
  if (r.spawnError) throw envError(`${pythonSpawnProblem(python, r.spawnError)}: pass --python PATH`);
  if (r.interrupted) throw new UserError(`interrupted during the preflight probe of ${python}`, EXIT_INTERRUPTED);
  if (r.timedOut)
    throw envError(
      `${python} -m moe_prof.preflight did not answer within ${timeoutMs / 1000} s (stopped it and its children; is torch's CUDA initialisation hanging?)`,
    );
  if (r.exitCode !== 0) {
    const why = lastLine(r.stderr) || (r.signal ? `killed by ${r.signal}` : `exit code ${r.exitCode}`);
    throw envError(`${python} could not run the moe-prof preflight probe: ${why}`);
  }
  const last = lastLine(r.stdout);
  let raw: unknown = null;
  try {
    raw = JSON.parse(last);
  } catch {
    /* reported below */
  }
  const parsed = pythonFacts.safeParse(raw);
  if (!parsed.success) throw envError(`${python}: unexpected preflight probe output: ${last.slice(0, 200)}`);
  return parsed.data;
}
