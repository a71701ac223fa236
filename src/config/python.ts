import { existsSync } from "node:fs";
import path from "node:path";

/** Default interpreter: the project's virtualenv made by `moe-prof setup` (./.venv), else python3. */
export function defaultPython(cwd: string = process.cwd()): string {
  const venvPython = path.join(cwd, ".venv", "bin", "python");
  return existsSync(venvPython) ? venvPython : "python3";
}
