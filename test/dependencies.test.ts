// Every dependency in package.json earns its place: each runtime dependency is imported by src/
// (or named here with the reason it is not), each dev dependency is used by a script or a config.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { ROOT } from "./helpers.js";

const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  scripts: Record<string, string>;
};

/** Runtime dependencies that src/ does not import itself. */
const NOT_IMPORTED: Record<string, string> = {
  canvas: "vega draws on it (vega-canvas loads it); src/render/to-png.ts says so when it is missing",
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => readFileSync(path.join(e.parentPath, e.name), "utf8"));
}

test("each runtime dependency is imported by src/ (canvas: through vega)", () => {
  const text = sources(path.join(ROOT, "src")).join("\n");
  for (const dep of Object.keys(pkg.dependencies)) {
    const imported = new RegExp(`(from |import\\()"${dep.replace("/", "\\/")}(/[^"]*)?"`).test(text);
    assert.equal(
      imported,
      !(dep in NOT_IMPORTED),
      `${dep}: ${imported ? "imported, yet listed as not imported" : "nothing in src/ imports it"}`,
    );
  }
  assert.ok(Object.keys(NOT_IMPORTED).every((d) => d in pkg.dependencies));
});

test("each dev dependency is used by an npm script or a config file", () => {
  const used = [
    Object.values(pkg.scripts).join("\n"),
    readFileSync(path.join(ROOT, "eslint.config.js"), "utf8"),
    readFileSync(path.join(ROOT, "tsconfig.json"), "utf8"),
  ].join("\n");
  // the names a package is used by: its own, its command, or its types' name in tsconfig
  const aliases: Record<string, string[]> = { typescript: ["tsc "], "@types/node": ['"node"'] };
  for (const dep of Object.keys(pkg.devDependencies))
    assert.ok(
      [dep, ...(aliases[dep] ?? [])].some((name) => used.includes(name)),
      `${dep}: no script or config uses it`,
    );
});
