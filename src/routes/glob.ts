// Glob patterns expanded here, not by a shell: `*` and `?` within one path segment, `[abc]`,
// `[a-z]` and `[!a]` classes, `**` as a whole segment for any number of directories. A leading
// dot is matched only by a pattern segment that starts with one (as shells do). Matches are
// regular files (symbolic links followed), sorted by path in code-point order.
import { readdirSync, statSync } from "node:fs";
import path from "node:path";

/** True when `s` has a glob character (`*`, `?` or `[`). */
export function hasGlobMagic(s: string): boolean {
  return /[*?[]/.test(s);
}

/** One path segment's pattern as a regular expression over a whole name. */
export function segmentRegExp(segment: string): RegExp {
  let re = "";
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const close = segment.indexOf("]", i + 2);
      if (close === -1) {
        re += "\\[";
        continue;
      }
      let body = segment.slice(i + 1, close);
      const negate = body.startsWith("!") || body.startsWith("^");
      if (negate) body = body.slice(1);
      re += `[${negate ? "^" : ""}${body.replace(/[\\\]^]/g, (m) => `\\${m}`)}]`;
      i = close;
    } else re += c.replace(/[.+^${}()|\\/]/g, (m) => `\\${m}`);
  }
  return new RegExp(`^${re}$`, "u");
}

function entries(dir: string): { name: string; isDir: boolean; isFile: boolean }[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.map((name) => {
    try {
      const st = statSync(path.join(dir, name));
      return { name, isDir: st.isDirectory(), isFile: st.isFile() };
    } catch {
      return { name, isDir: false, isFile: false };
    }
  });
}

/** The regular files `pattern` matches, sorted; relative patterns are taken from `cwd`. */
export function globFiles(pattern: string, cwd = process.cwd()): string[] {
  const abs = path.isAbsolute(pattern);
  const parts = pattern.split(/[/\\]+/).filter((p, i) => p !== "" || i === 0);
  const root = abs ? path.parse(path.resolve(pattern)).root : "";
  const segs = abs ? parts.slice(1) : parts;
  if (segs[segs.length - 1] === "**") segs.push("*"); // `dir/**`: every file below dir
  const out = new Set<string>();
  // `shown` is the path as the user would write it (relative stays relative).
  const walk = (shown: string, i: number): void => {
    const real = path.resolve(cwd, shown || ".");
    if (i === segs.length) {
      try {
        if (statSync(real).isFile()) out.add(shown);
      } catch {
        // a literal path that does not exist matches nothing
      }
      return;
    }
    const seg = segs[i]!;
    const join = (name: string) => (shown === "" ? name : shown.endsWith("/") ? shown + name : `${shown}/${name}`);
    if (seg === "**") {
      walk(shown, i + 1); // zero directories
      for (const e of entries(real)) if (e.isDir && !e.name.startsWith(".")) walk(join(e.name), i);
      return;
    }
    if (!hasGlobMagic(seg)) return walk(join(seg), i + 1);
    const re = segmentRegExp(seg);
    const dotOk = seg.startsWith(".");
    for (const e of entries(real)) {
      if (e.name.startsWith(".") && !dotOk) continue;
      if (!re.test(e.name)) continue;
      if (i + 1 === segs.length ? e.isFile : e.isDir) walk(join(e.name), i + 1);
    }
  };
  walk(root, 0);
  return [...out].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
