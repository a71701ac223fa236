// `moe-prof import --from FORMAT INPUT... -o OUT.jsonl`: the conversion runs in Python
// (python/moe_prof/importers: SGLang's dumps are torch pickles, vLLM's arrays numpy files), started
// with an argument array; the log it writes is then validated here like any other.
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { defaultPython, lastLine, pythonSpawnProblem } from "../../config/python.js";
import { parseLayerList } from "../../config/layer-list.js";
import { parseIntList } from "../../config/number-list.js";
import { workerEnv } from "../../worker/run-worker.js";
import { validateRoutesFile } from "../../log-scan/validate-file.js";
import type { RoutesMeta } from "../../routes/schema.js";
import { noTop1Reason } from "../../routes/weights.js";
import { UserError, envError, fsProblem, EXIT_INVALID } from "../../errors.js";
import { IMPORT_FORMATS } from "./options.js";

export interface ImportOptions {
  from: string;
  out: string;
  modelId?: string;
  numExperts?: string;
  layers?: string;
  python?: string;
}

/** The importer module's name for each --from. */
const MODULE_FORMAT: Record<(typeof IMPORT_FORMATS)[number], string> = {
  sglang: "sglang-expert-distribution-per-token",
  "vllm-routed-experts": "vllm-routed-experts",
};

export interface ImportResult {
  out: string;
  rows: number;
  meta: RoutesMeta;
  requests: number;
}

/** Converts and validates; tests call it directly. */
export async function runImport(inputs: string[], opts: ImportOptions): Promise<ImportResult> {
  const from = opts.from as (typeof IMPORT_FORMATS)[number];
  if (!IMPORT_FORMATS.includes(from))
    throw envError(`--from: unknown "${opts.from}" (expected ${IMPORT_FORMATS.join(" or ")})`);
  if (opts.layers !== undefined && from !== "vllm-routed-experts")
    throw envError("--layers: only for --from vllm-routed-experts (SGLang's dump says which layers are MoE)");
  const args = ["-m", "moe_prof.importers", MODULE_FORMAT[from], ...inputs, "--out", opts.out];
  args.push("--model-id", opts.modelId ?? "unknown");
  if (opts.numExperts !== undefined) {
    const e = parseIntList("--num-experts", opts.numExperts, 1);
    if (e.length !== 1) throw envError("--num-experts: one number");
    args.push("--num-experts", String(e[0]));
  }
  if (opts.layers !== undefined) args.push("--layers", parseLayerList(opts.layers).join(","));
  await mkdir(path.dirname(path.resolve(opts.out)), { recursive: true }).catch((e: NodeJS.ErrnoException) => {
    throw envError(`${opts.out}: cannot create its directory: ${fsProblem(e)}`);
  });
  const python = opts.python ?? defaultPython();
  const r = await execa(python, args, { env: workerEnv(), reject: false, stdin: "ignore" });
  const code = (r as { code?: string }).code;
  if (r.failed && r.exitCode === undefined) throw envError(pythonSpawnProblem(python, code ?? "unknown"));
  if (r.exitCode === 1) throw new UserError(lastLine(r.stderr), EXIT_INVALID);
  if (r.exitCode === 2) throw envError(lastLine(r.stderr));
  if (r.exitCode !== 0)
    throw envError(`import: ${python} -m moe_prof.importers failed (exit ${r.exitCode}): ${lastLine(r.stderr)}`);
  const report = await validateRoutesFile(opts.out);
  if (!report.valid) {
    await rm(opts.out, { force: true });
    throw new UserError(
      `import: the converted log does not validate (removed): ${report.errors[0] ?? "?"}`,
      EXIT_INVALID,
    );
  }
  const meta = report.scan.meta!;
  return { out: opts.out, rows: report.scan.rows, meta, requests: report.scan.requests.length };
}

export function importSummaryText(r: ImportResult): string {
  const m = r.meta;
  const E = m.num_experts === undefined ? "experts not declared" : `${m.num_experts} experts`;
  return [
    `wrote ${r.out}: ${r.rows} route rows, ${r.requests} requests, ${m.layers_logged.length} layers (${m.layers_logged.join(",")}) of ${m.num_layers ?? "?"}, top-${m.top_k}, ${E}; imported from ${m.imported_from}`,
    `${noTop1Reason(m)}: top-1 repetition, layer transitions, place's top1_gpu_share, compare's top-1 agreement and hist --request need weights and are left out; counts, co-activation, cache, place's loads and the eplb export work (r3 needs whole requests with phase: vLLM's arrays have no phase, SGLang's dump no request ids)`,
  ].join("\n");
}

export async function importCommand(inputs: string[], opts: ImportOptions): Promise<void> {
  const r = await runImport(inputs, opts);
  process.stdout.write(importSummaryText(r) + "\n");
}
