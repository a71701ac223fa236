// Imports in src/ point one way: a folder (or a top-level module) imports only those listed after
// it in LAYERS, never one before it. Read from the sources themselves (static, re-export and
// dynamic imports), so a new import that runs back up fails here, naming the file and the import.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { ROOT } from "./helpers.js";

/** Top of src/ first. Each may import itself and anything after it. */
const LAYERS = [
  "cli", // commander wiring
  "commands", // one folder per command
  "export", // eplb / r3 / parquet exports of a log
  "artifacts", // writes what render returns and what passes measured
  "render", // pictures and the human summary, as bytes and strings
  "serving", // `serve`: the vLLM server process, the load generator, attribution of its log
  "passes", // the no-log and log passes of `run`, and their checks
  "preflight", // checks before a run
  "log-scan", // one read of a log, serial or on threads: validate, analyse
  "analysis", // metrics, simulators, summaries of rows
  "routes", // the log: schema, scanner, coverage
  "prompts",
  "patch",
  "worker", // the Python worker's protocol and process
  "config",
  "problems",
  "fault-injection",
  "random", // the seeded generator (synthetic logs, load arrivals)
  "zstd-wasm", // zstd's WebAssembly, started once: the Parquet writer and readers
  "errors",
];

const IMPORT = /(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)"(\.{1,2}\/[^"]+)"/gm;

/** The LAYERS entry a path under src/ belongs to (its first folder, or its file name). */
function unitOf(relToSrc: string): string {
  const first = relToSrc.split(/[\\/]/)[0]!;
  return first.replace(/\.(ts|js)$/, "");
}

interface Violation {
  file: string;
  spec: string;
  from: string;
  to: string;
}

/** Imports that run against LAYERS, in files given as src-relative path -> text. */
function violations(files: Map<string, string>): Violation[] {
  const out: Violation[] = [];
  for (const [file, text] of files) {
    const from = unitOf(file);
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1]!;
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
      if (target.startsWith("..")) continue; // outside src/ (none today)
      const to = unitOf(target);
      if (to === from) continue;
      const [fi, ti] = [LAYERS.indexOf(from), LAYERS.indexOf(to)];
      if (fi < 0 || ti < 0 || ti < fi) out.push({ file, spec, from, to });
    }
  }
  return out;
}

function sourceFiles(): Map<string, string> {
  const src = path.join(ROOT, "src");
  const files = new Map<string, string>();
  for (const e of readdirSync(src, { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !e.name.endsWith(".ts")) continue;
    const full = path.join(e.parentPath, e.name);
    files.set(path.relative(src, full).split(path.sep).join("/"), readFileSync(full, "utf8"));
  }
  return files;
}

test("no import in src/ runs against the folder order", () => {
  const files = sourceFiles();
  assert.ok(files.size > 50, `read ${files.size} sources`);
  const bad = violations(files);
  assert.deepEqual(
    bad.map(
      (v) =>
        `src/${v.file}: imports ${v.spec} (${v.from} -> ${v.to}${LAYERS.includes(v.to) && LAYERS.includes(v.from) ? "" : ", not in LAYERS"})`,
    ),
    [],
  );
});

test("every folder and top-level module of src/ is placed in the order", () => {
  const units = new Set([...sourceFiles().keys()].map(unitOf));
  assert.deepEqual([...units].filter((u) => !LAYERS.includes(u)).sort(), []);
  assert.deepEqual(
    LAYERS.filter((u) => !units.has(u)),
    [],
    "LAYERS names something src/ does not have",
  );
});

test("the check finds imports that run back up: static, dynamic, re-export and side-effect", () => {
  const files = new Map([
    ["routes/a.ts", 'import { x } from "../analysis/b.js";\nconst y = await import("../render/c.js");'],
    [
      "analysis/b.ts",
      'export { z } from "../commands/d.js";\nimport "../cli.js";\nimport { w } from "../routes/ok.js";',
    ],
    ["errors.ts", 'import { q } from "./errors-extra.js";'],
  ]);
  assert.deepEqual(
    violations(files).map((v) => `${v.file} -> ${v.to}`),
    [
      "routes/a.ts -> analysis",
      "routes/a.ts -> render",
      "analysis/b.ts -> commands",
      "analysis/b.ts -> cli",
      "errors.ts -> errors-extra",
    ],
  );
});
