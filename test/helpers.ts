// Shared test helpers: temp dirs, fixture paths, small logs built line by line.
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Repository root (tests run from dist/test). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const FIXTURES = path.join(ROOT, "fixtures/routes");
export const CLI = path.join(ROOT, "dist/src/cli.js");

const made: string[] = [];
// Each test file runs in its own process: its temp dirs go when it exits.
process.on("exit", () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

export function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), "moe-prof-test-"));
  made.push(d);
  return d;
}

export const META = {
  type: "meta",
  model_id: "test/tiny-moe",
  vllm_version: "0.15.1",
  torch_version: "2.9.0",
  device: "cpu",
  seed: 0,
  layers_logged: [0, 3],
  top_k: 2,
};

export function route(
  req: string,
  t: number,
  layer: number,
  ids: number[],
  ws: number[] = ids.map(() => 0.5),
  extra: object = {},
) {
  return { type: "route", req_id: req, token_idx: t, layer, topk_ids: ids, topk_weights: ws, ...extra };
}

/** A small valid log: requests r0 (3 tokens) and r1 (2 tokens) in layers 0 and 3. */
export function goodLines(): string[] {
  const lines = [JSON.stringify(META)];
  for (const layer of [0, 3]) {
    for (const [req, n] of [
      ["r0", 3],
      ["r1", 2],
    ] as const) {
      for (let t = 0; t < n; t++) lines.push(JSON.stringify(route(req, t, layer, [t % 4, (t + 1) % 4], [0.6, 0.4])));
    }
  }
  return lines;
}

/** Writes lines (each followed by "\n" unless `noFinalNewline`) to a fresh temp file. */
export function writeLog(lines: string[], name = "moe_routes.jsonl", noFinalNewline = false): string {
  const file = path.join(tempDir(), name);
  writeFileSync(file, lines.join("\n") + (noFinalNewline ? "" : "\n"));
  return file;
}

export function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, "utf8"));
}

/**
 * The Python of the lock's venv (`moe-prof setup`: vLLM 0.15.1, torch 2.9.1, transformers 4.57.6)
 * for tests that run real models on the CPU: $MOE_PROF_TEST_PYTHON, else ./.venv/bin/python.
 * null when there is none; where MOE_PROF_REQUIRE_VLLM=1 (CI) that is a failure, not a skip.
 */
export function venvPython(): string | null {
  const p = process.env.MOE_PROF_TEST_PYTHON ?? path.join(ROOT, ".venv", "bin", "python");
  try {
    readFileSync(p);
    return p;
  } catch {
    if (process.env.MOE_PROF_REQUIRE_VLLM === "1")
      throw new Error(`no venv Python at ${p}: run \`moe-prof setup\` first`);
    return null;
  }
}
