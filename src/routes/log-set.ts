// Many files as one log: the command-line arguments of a log command (files, directories, glob
// patterns expanded here, no shell) turned into the ordered list of files read as one log.
// Each file has a label (its path below the files' common directory, log extensions dropped):
// when several files are read as one, every req_id becomes `<label>/<req_id>`, so that requests of
// different files never merge, whether or not their ids collide.
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { envError } from "../errors.js";
import { globFiles, hasGlobMagic } from "./glob.js";
import { STDIN } from "./log-source.js";

export interface LogFile {
  /** As given, or as the directory listing / glob made it (relative stays relative). */
  path: string;
  /** `<label>/` prefixes this file's req_ids when the set has more than one file. */
  label: string;
}

export interface LogSet {
  files: LogFile[];
  /** In messages and outputs: the file's path for one file, else "N files in DIR". */
  name: string;
  /** The files' common directory (outputs go there by default). */
  dir: string;
}

/** Names a directory's listing takes as route logs. */
export const LOG_NAME = /\.(jsonl|jsonl\.gz|jsonl\.zst|parquet)$/;
const LOG_EXTENSION = /(\.jsonl|\.json)?(\.gz|\.zst|\.partial)*$|\.parquet$/;

/** The route logs directly in `dir` (not below it), sorted; hidden files left out. */
function logsInDirectory(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    throw envError(`${dir}: cannot list: ${(e as Error).message}`);
  }
  return names
    .filter((n) => !n.startsWith(".") && LOG_NAME.test(n))
    .filter((n) => {
      try {
        return statSync(path.join(dir, n)).isFile();
      } catch {
        return false;
      }
    })
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((n) => path.join(dir, n));
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The deepest directory holding every path (absolute). */
export function commonDir(paths: readonly string[]): string {
  const dirs = paths.map((p) => path.dirname(path.resolve(p)).split(path.sep));
  const first = dirs[0]!;
  let n = first.length;
  for (const d of dirs) {
    let i = 0;
    while (i < n && i < d.length && d[i] === first[i]) i++;
    n = i;
  }
  return first.slice(0, n).join(path.sep) || path.sep;
}

/** Labels: paths below `dir` without log extensions; where two would be equal, with them. */
export function fileLabels(paths: readonly string[], dir: string): string[] {
  const rel = paths.map((p) => path.relative(dir, path.resolve(p)).split(path.sep).join("/"));
  const stripped = rel.map((r) => r.replace(LOG_EXTENSION, "") || r);
  const seen = new Map<string, number>();
  for (const s of stripped) seen.set(s, (seen.get(s) ?? 0) + 1);
  return stripped.map((s, i) => (seen.get(s)! > 1 ? rel[i]! : s));
}

/**
 * The files named by a log command's arguments, in order: each argument a file, a directory (its
 * route logs, sorted by name) or a glob pattern (its files, sorted); a file reached twice counts
 * once. Standard input (`-`) only alone. Usage errors (exit 2) for a pattern or directory that
 * yields nothing; a missing plain path is left to the read, which words it as for one log.
 */
export function expandLogArgs(args: readonly string[], cwd = process.cwd()): LogSet {
  if (args.length === 0) throw envError("no routes log given");
  if (args.includes(STDIN) && args.length > 1)
    throw envError(`-: standard input cannot be read together with other logs: name the files`);
  const found: string[] = [];
  for (const arg of args) {
    if (arg === STDIN) found.push(arg);
    else if (isDirectory(path.resolve(cwd, arg))) {
      const logs = logsInDirectory(path.resolve(cwd, arg)).map((p) =>
        path.isAbsolute(arg) ? p : path.join(arg, path.basename(p)),
      );
      if (logs.length === 0)
        throw envError(
          `${arg}: no route logs in this directory (files named *.jsonl, *.jsonl.gz, *.jsonl.zst or *.parquet)`,
        );
      found.push(...logs);
    } else if (hasGlobMagic(arg) && !exists(path.resolve(cwd, arg))) {
      const matches = globFiles(arg, cwd);
      if (matches.length === 0) throw envError(`${arg}: no file matches this pattern`);
      found.push(...matches);
    } else found.push(arg);
  }
  const seen = new Set<string>();
  const files = found.filter((f) => {
    const key = f === STDIN ? f : path.resolve(cwd, f);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  if (files.length === 1) {
    const only = files[0]!;
    const dir = only === STDIN ? cwd : path.dirname(path.resolve(cwd, only));
    return { files: [{ path: only, label: path.basename(only).replace(LOG_EXTENSION, "") }], name: only, dir };
  }
  const dir = commonDir(files.map((f) => path.resolve(cwd, f)));
  const labels = fileLabels(
    files.map((f) => path.resolve(cwd, f)),
    dir,
  );
  const shownDir = path.relative(cwd, dir);
  const name = `${files.length} files in ${shownDir === "" ? "." : shownDir.startsWith("..") ? dir : shownDir}`;
  return { files: files.map((p, i) => ({ path: p, label: labels[i]! })), name, dir };
}

function exists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** The req_id a row of `file` has in the set: unchanged for a set of one file. */
export function setReqId(set: LogSet, fileIndex: number, reqId: string): string {
  return set.files.length === 1 ? reqId : `${set.files[fileIndex]!.label}/${reqId}`;
}

/** A command's log argument(s) as a set: one string is one argument (a file, directory or glob). */
export function logSetOf(input: LogInput): LogSet {
  if (typeof input === "string") return expandLogArgs([input]);
  return isLogSet(input) ? input : expandLogArgs(input);
}

/** What a command's run function takes: one argument, the arguments, or the set they made. */
export type LogInput = string | readonly string[] | LogSet;

function isLogSet(x: readonly string[] | LogSet): x is LogSet {
  return !Array.isArray(x);
}

/** A log file's path that outputs are placed and named beside: the file itself for one file,
 * else moe_routes.jsonl in the files' common directory (outputs then go there). */
export function outAnchor(set: LogSet): string {
  return set.files.length === 1 ? set.files[0]!.path : path.join(set.dir, "moe_routes.jsonl");
}

/** How the set is named in messages: the file as given for one file, else the set's name. */
export function setWhere(set: LogSet): string {
  return set.files.length === 1 ? set.files[0]!.path : set.name;
}
