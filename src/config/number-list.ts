// Comma-separated option values of the what-if commands: `--capacities 4,8,16`, `--gpus 2,4,8`,
// `--targets 0.9,0.99`, `--policies lru,opt`. Each problem is a one-line usage error (exit 2).
import { envError } from "../errors.js";

/** Distinct integers >= min, ascending. */
export function parseIntList(option: string, text: string, min: number): number[] {
  const out = new Set<number>();
  for (const part of text.split(",")) {
    const t = part.trim();
    if (!/^\d+$/.test(t)) throw envError(`${option}: cannot read "${part}" (expected integers like 4,8,16)`);
    const n = Number(t);
    if (!Number.isSafeInteger(n) || n < min) throw envError(`${option}: ${t} must be an integer >= ${min}`);
    out.add(n);
  }
  return [...out].sort((a, b) => a - b);
}

/** Distinct numbers in (0, 1], ascending. */
export function parseFractionList(option: string, text: string): number[] {
  const out = new Set<number>();
  for (const part of text.split(",")) {
    const t = part.trim();
    const n = Number(t);
    if (t === "" || !Number.isFinite(n) || n <= 0 || n > 1)
      throw envError(`${option}: cannot read "${part}" (expected numbers in (0, 1] like 0.9,0.99)`);
    out.add(n);
  }
  return [...out].sort((a, b) => a - b);
}

/** Distinct names from `allowed`, in the order of `allowed`. */
export function parseNameList<T extends string>(option: string, text: string, allowed: readonly T[]): T[] {
  const want = new Set<string>();
  for (const part of text.split(",")) {
    const t = part.trim();
    if (!(allowed as readonly string[]).includes(t))
      throw envError(`${option}: unknown "${part}" (expected some of ${allowed.join(",")})`);
    want.add(t);
  }
  return allowed.filter((a) => want.has(a));
}
