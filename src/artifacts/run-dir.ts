// A run works in `<out>.partial/` and becomes `<out>/` only when everything in it is complete,
// so a crashed or interrupted run is never mistaken for a result.
import { existsSync, mkdirSync, readdirSync, renameSync, rmdirSync } from "node:fs";
import { refuseFileAsOutDir } from "../config/out-dir-guard.js";
import { UserError, EXIT_ENV, fsProblem } from "../errors.js";

export interface RunDir {
  final: string;
  work: string;
}

function fsFailure(what: string, p: string, err: unknown): UserError {
  return new UserError(`--out ${p}: cannot ${what}: ${fsProblem(err)}`, EXIT_ENV);
}

export function createRunDir(outDir: string): RunDir {
  try {
    return makeRunDir(outDir);
  } catch (err) {
    throw err instanceof UserError ? err : fsFailure("create the run directory", outDir, err);
  }
}

function makeRunDir(outDir: string): RunDir {
  refuseFileAsOutDir(outDir);
  if (existsSync(outDir) && readdirSync(outDir).length > 0)
    throw new UserError(`${outDir} already exists and is not empty: choose another --out`, EXIT_ENV);
  const work = `${outDir}.partial`;
  if (existsSync(work))
    throw new UserError(
      `${work} exists (left by an earlier interrupted run): remove it or choose another --out`,
      EXIT_ENV,
    );
  mkdirSync(work, { recursive: true });
  return { final: outDir, work };
}

export function publishRunDir(dir: RunDir): void {
  try {
    if (existsSync(dir.final)) rmdirSync(dir.final); // empty (checked at creation): made by the user
    renameSync(dir.work, dir.final);
  } catch (err) {
    throw fsFailure(`rename ${dir.work} to it`, dir.final, err);
  }
}
