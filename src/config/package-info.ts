import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

/** Root of the installed package (works from src/ via tsx and from dist/src/). */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      readFileSync(path.join(dir, "package.json"));
      return dir;
    } catch {
      dir = path.dirname(dir);
    }
  }
  throw new Error("moe-prof: cannot locate package.json above " + fileURLToPath(import.meta.url));
}

/** A file of the package as a user can type it here: relative when it lies under the current
 * directory (a checkout), else absolute (an installed package). */
export function packagePath(...parts: string[]): string {
  const p = path.join(packageRoot(), ...parts);
  const rel = path.relative(process.cwd(), p);
  return rel === "" || rel.startsWith("..") || path.isAbsolute(rel) ? p : rel;
}

export function readPackageVersion(): string {
  const pkg = JSON.parse(readFileSync(path.join(packageRoot(), "package.json"), "utf8")) as { version: string };
  return pkg.version;
}
