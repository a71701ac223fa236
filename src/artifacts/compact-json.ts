// JSON for people and for diffs: objects and arrays of objects indented as JSON.stringify(x, null, 2)
// would, but an array of plain values (counts, loads, a matrix row) on one line. The same value as
// JSON.stringify: JSON.parse of either gives equal objects (test/compact-json.test.ts). Measured:
// hist's summary.json of the recorded H100 log 1.44 MB -> 0.41 MB, each 60x60 transition matrix
// being 60 lines instead of 3,600.

function isPlain(v: unknown): boolean {
  return v === null || typeof v !== "object";
}

function scalar(v: unknown): string {
  // As JSON.stringify does in arrays: undefined, functions and symbols become null.
  return JSON.stringify(v) ?? "null";
}

export function toCompactJson(value: unknown, indent = 2): string {
  const walk = (v: unknown, pad: string): string | undefined => {
    if (v !== null && typeof v === "object" && typeof (v as { toJSON?: unknown }).toJSON === "function")
      v = (v as { toJSON: () => unknown }).toJSON();
    if (v === undefined || typeof v === "function" || typeof v === "symbol") return undefined;
    if (isPlain(v)) return scalar(v);
    const inner = pad + " ".repeat(indent);
    if (Array.isArray(v)) {
      if (v.length === 0) return "[]";
      if (v.every(isPlain)) return `[${v.map(scalar).join(", ")}]`;
      return `[\n${v.map((e) => inner + (walk(e, inner) ?? "null")).join(",\n")}\n${pad}]`;
    }
    const parts: string[] = [];
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const s = walk(x, inner);
      if (s !== undefined) parts.push(`${inner}${JSON.stringify(k)}: ${s}`);
    }
    return parts.length ? `{\n${parts.join(",\n")}\n${pad}}` : "{}";
  };
  return (walk(value, "") ?? "null") + "\n";
}
