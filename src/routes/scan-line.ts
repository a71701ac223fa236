// What is wrong with one line of a routes log that is not valid JSON, or not a JSON object, worded
// for the user. Shared by the meta step (line 1) and the row loop.

/** Why JSON.parse rejected a line, worded. `terminated`: the line ended with "\n". */
export function jsonProblem(text: string, terminated: boolean): { field: string | null; what: string } {
  if (!terminated)
    return { field: null, what: "truncated file: the last line ends without a newline and is not complete JSON" };
  if (text.trim() === "") return { field: null, what: "blank line" };
  const nf = nonFiniteField(text);
  if (nf) return { field: nf, what: "NaN/Infinity is not valid JSON (write finite numbers)" };
  return { field: null, what: "not valid JSON" };
}

/** Why a parsed line is not a JSON object, or null when it is one. */
export function notAnObject(value: unknown): string | null {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) return null;
  return `not a JSON object (got ${value === null ? "null" : Array.isArray(value) ? "an array" : typeof value})`;
}

/** Finds the key whose value is NaN/Infinity in a line JSON.parse rejected, for the message. */
function nonFiniteField(text: string): string | null {
  const m = /(?:^|[^A-Za-z"])(-?Infinity|NaN)(?![A-Za-z"])/.exec(text);
  if (!m) return null;
  const before = text.slice(0, m.index + 1);
  const keys = [...before.matchAll(/"([^"\\]+)"\s*:/g)];
  return keys.length ? keys[keys.length - 1]![1]! : "(line)";
}
