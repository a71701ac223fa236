import { existsSync } from "node:fs";
import path from "node:path";
import { packageRoot } from "./package-info.js";

/** Default interpreter: the virtualenv `moe-prof setup` made (./.venv, else beside the package), else python3. */
export function defaultPython(cwd: string = process.cwd()): string {
  for (const dir of [cwd, packageRoot()]) {
    const p = path.join(dir, ".venv", "bin", "python");
    if (existsSync(p)) return p;
  }
  return "python3";
}
