import { envError } from "../errors.js";

/** Parses `--layers 0,5-7` into [0,5,6,7] (sorted, distinct). */
export function parseLayerList(text: string): number[] {
  const out = new Set<number>();
  for (const part of text.split(",")) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw envError(`--layers: cannot read "${part}" (expected e.g. 0,5-7)`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw envError(`--layers: range "${part.trim()}" runs backwards`);
    if (b - a > 100_000) throw envError(`--layers: range "${part.trim()}" is too long`);
    for (let l = a; l <= b; l++) out.add(l);
  }
  return [...out].sort((x, y) => x - y);
}
