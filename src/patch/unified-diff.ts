// Our own patch file, parsed and applied exactly (no fuzz, no offsets): the vLLM files it targets
// are pinned to 0.15.1, so anything else is "conflicting", never "close enough".

export interface Hunk {
  oldStart: number; // 1-based line in the original file
  newStart: number; // 1-based line in the patched file
  lines: string[]; // each starts with ' ', '-' or '+', newline included
}

export interface FilePatch {
  path: string; // relative to the directory holding vllm/
  isNew: boolean;
  hunks: Hunk[];
}

export function parseUnifiedDiff(text: string, source: string): FilePatch[] {
  const lines = text.split(/(?<=\n)/);
  const files: FilePatch[] = [];
  let cur: FilePatch | null = null;
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.startsWith("--- ") && lines[i + 1]?.startsWith("+++ ")) {
      const oldName = line.slice(4).trim();
      const newName = lines[i + 1]!.slice(4).trim();
      if (!newName.startsWith("b/"))
        throw new Error(`${source}:${i + 2}: expected "+++ b/PATH", got ${JSON.stringify(newName)}`);
      cur = { path: newName.slice(2), isNew: oldName === "/dev/null", hunks: [] };
      files.push(cur);
      i += 2;
      continue;
    }
    const m = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/.exec(line);
    if (m) {
      if (!cur) throw new Error(`${source}:${i + 1}: hunk before any file header`);
      let oldLeft = m[2] === undefined ? 1 : Number(m[2]);
      let newLeft = m[4] === undefined ? 1 : Number(m[4]);
      const hunk: Hunk = { oldStart: Number(m[1]), newStart: Number(m[3]), lines: [] };
      i++;
      while (oldLeft > 0 || newLeft > 0) {
        const h = lines[i];
        if (h === undefined) throw new Error(`${source}:${i + 1}: hunk ends early`);
        const tag = h[0];
        if (tag === " ") {
          oldLeft--;
          newLeft--;
        } else if (tag === "-") oldLeft--;
        else if (tag === "+") newLeft--;
        else if (h.startsWith("\\")) {
          i++;
          continue;
        } else throw new Error(`${source}:${i + 1}: unexpected line in hunk`);
        hunk.lines.push(h);
        i++;
      }
      if (oldLeft < 0 || newLeft < 0) throw new Error(`${source}: hunk line counts do not match its header`);
      cur.hunks.push(hunk);
      continue;
    }
    i++; // preamble text
  }
  if (files.length === 0) throw new Error(`${source}: no file patches found`);
  return files;
}

/** Applies a modified file's hunks forward (or in reverse) at exactly their stated lines;
 *  returns null when the text there is not what the patch expects. */
export function applyExact(original: string, fp: FilePatch, reverse = false): string | null {
  const src = original.split(/(?<=\n)/);
  const out: string[] = [];
  let pos = 0;
  const drop = reverse ? "+" : "-";
  const add = reverse ? "-" : "+";
  for (const h of fp.hunks) {
    const at = (reverse ? h.newStart : h.oldStart) - 1;
    if (at < pos || at > src.length) return null;
    out.push(...src.slice(pos, at));
    pos = at;
    for (const l of h.lines) {
      const tag = l[0];
      const body = l.slice(1);
      if (tag === " " || tag === drop) {
        if (src[pos] !== body) return null;
        if (tag === " ") out.push(body);
        pos++;
      } else if (tag === add) {
        out.push(body);
      }
    }
  }
  out.push(...src.slice(pos));
  return out.join("");
}

/** Full content of a file the patch creates. */
export function newFileContent(fp: FilePatch): string {
  return fp.hunks.flatMap((h) => h.lines.filter((l) => l[0] === "+").map((l) => l.slice(1))).join("");
}
