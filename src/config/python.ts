import { existsSync } from "node:fs";
import path from "node:path";
import { packageRoot } from "./package-info.js";
import { fsProblem } from "../errors.js";

/** Default interpreter: the virtualenv `moe-prof setup` made (./.venv, else beside the package), else python3. */
export function defaultPython(cwd: string = process.cwd()): string {
  for (const dir of [cwd, packageRoot()]) {
    const p = path.join(dir, ".venv", "bin", "python");
    if (existsSync(p)) return p;
  }
  return "python3";
}

/** Why an interpreter could not be started, in one line (ENOENT, EACCES from a directory, ...). */
export function pythonSpawnProblem(python: string, code: string): string {
  if (code === "ENOENT") return `Python not found: ${python}`;
  if (code === "EACCES" || code === "EISDIR")
    return `${python} cannot be run (${code}: a directory, or a file without execute permission), not a Python interpreter`;
  return `${python} cannot be run: ${fsProblem({ code })}`;
}

/** Last non-empty line of a child's stderr: where Python puts the exception. */
export function lastLine(text: string): string {
  return text.trim().split("\n").pop()?.trim() ?? "";
}
