// Ask the chosen Python for the facts every preflight check reads (python/moe_prof/preflight.py).
import { execa } from "execa";
import { z } from "zod";
import { envError } from "../errors.js";
import { workerEnv } from "../worker/run-worker.js";

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
      devices: z.array(z.object({ index: z.number(), name: z.string(), free_bytes: z.number(), total_bytes: z.number() })),
    })
    .nullable(),
});
export type PythonFacts = z.infer<typeof pythonFacts>;

export async function probePython(python: string): Promise<PythonFacts> {
  const r = await execa(python, ["-m", "moe_prof.preflight"], { env: workerEnv(), reject: false, timeout: 180_000 });
  if ((r as { code?: string }).code === "ENOENT")
    throw envError(`Python not found: ${python}. Run \`moe-prof setup\` to create ./.venv, or pass --python PATH`);
  if (r.timedOut) throw envError(`${python} -m moe_prof.preflight did not answer within 180 s (is torch's CUDA initialisation hanging?)`);
  if (r.exitCode !== 0) {
    const last = String(r.stderr).trim().split("\n").pop() ?? "";
    throw envError(`${python} could not run the moe-prof preflight probe: ${last || `exit code ${r.exitCode}`}`);
  }
  const lastLine = String(r.stdout).trim().split("\n").pop() ?? "";
  let raw: unknown = null;
  try {
    raw = JSON.parse(lastLine);
  } catch {
    /* reported below */
  }
  const parsed = pythonFacts.safeParse(raw);
  if (!parsed.success) throw envError(`${python}: unexpected preflight probe output: ${lastLine.slice(0, 200)}`);
  return parsed.data;
}
