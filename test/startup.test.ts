// Start-up (issue 8): `moe-prof --version`, `--help` and `validate` must not load what they do not
// use. Checked on the built files' static imports (what loads before any code runs): the CLI's
// entry loads commander and our own light modules only; validate's action loads the scan (zod,
// the WebAssembly scanner, hyparquet only for a Parquet file) but never vega, canvas or undici.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { CLI, ROOT } from "./helpers.js";

/** Packages reached through static `import ... from` (not `await import()`) from a built module. */
function staticPackages(entry: string): Set<string> {
  const seen = new Set<string>();
  const pkgs = new Set<string>();
  const walk = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = readFileSync(file, "utf8");
    for (const m of src.matchAll(/^\s*import\s+(?!type\b)(?:[^"']*?from\s+)?["']([^"']+)["']/gm)) {
      const spec = m[1]!;
      if (spec.startsWith(".")) walk(path.resolve(path.dirname(file), spec));
      else if (!spec.startsWith("node:")) pkgs.add(spec.split("/")[0]!);
    }
  };
  walk(entry);
  return pkgs;
}

test("the CLI entry loads commander and nothing else of node_modules (--version, --help)", () => {
  assert.deepEqual([...staticPackages(CLI)], ["commander"]);
});

test("validate's code never loads vega, vega-lite, canvas or undici", () => {
  const pkgs = staticPackages(path.join(ROOT, "dist/src/log-scan/validate-file.js"));
  for (const p of ["vega", "vega-lite", "canvas", "undici"]) assert.ok(!pkgs.has(p), p);
  assert.ok(pkgs.has("zod"), "the check is real: the scan's own dependency is seen");
});

test("--version and --help answer (the lazy imports broke nothing)", () => {
  const v = spawnSync(process.execPath, [CLI, "--version"], { encoding: "utf8" });
  assert.equal(v.status, 0);
  assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
  const h = spawnSync(process.execPath, [CLI, "--help"], { encoding: "utf8" });
  assert.equal(h.status, 0);
  for (const c of ["run", "hist", "validate", "cache", "place", "export", "compare", "patch", "setup"])
    assert.match(h.stdout, new RegExp(`\\n  ${c}\\b`));
});
