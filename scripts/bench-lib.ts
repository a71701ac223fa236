// What scripts/bench-hist.ts shares with other benchmarks: timing a command (wall, CPU, peak RSS
// from getrusage of a small Python wrapper), medians, the throw-away venv with DuckDB, polars,
// orjson and numpy, and reading per-layer expert counts from each tool's output to compare them.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";

// Runs a command; prints wall seconds, the child's peak RSS (KiB), CPU seconds (user + sys) and
// its exit status. argv[1]: where its stdout goes ("-" for nowhere).
const MEASURE_PY = `
import resource, subprocess, sys, time
out = subprocess.DEVNULL if sys.argv[1] == "-" else open(sys.argv[1], "wb")
t = time.perf_counter()
r = subprocess.run(sys.argv[2:], stdout=out)
dt = time.perf_counter() - t
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(dt, u.ru_maxrss, u.ru_utime + u.ru_stime, r.returncode)
`;

export interface Run {
  s: number;
  rssMiB: number;
  cpu: number;
}

/** Times `cmd`; its stdout goes to `stdout` when given. Throws when it exits non-zero. */
export async function measure(cmd: string[], env: Record<string, string>, stdout?: string): Promise<Run> {
  const { stdout: o } = await execa("python3", ["-c", MEASURE_PY, stdout ?? "-", ...cmd], { env });
  const [s, kib, cpu, rc] = o.trim().split(/\s+/).map(Number);
  if (rc !== 0) throw new Error(`${cmd.join(" ")} exited ${rc}`);
  return { s: s!, rssMiB: kib! / 1024, cpu: cpu! };
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** A venv with duckdb, polars, orjson, numpy and pyarrow (a Parquet writer) from PyPI, made in `dir` unless `reuse` has one. */
export async function benchVenv(dir: string, reuse?: string): Promise<string> {
  const venv = reuse ?? path.join(dir, "venv");
  const py = path.join(venv, "bin", "python");
  if (existsSync(py)) return py;
  const pkgs = ["duckdb", "polars", "orjson", "numpy", "pyarrow"];
  const uv = await execa("uv", ["--version"], { reject: false });
  if (uv.exitCode === 0) {
    await execa("uv", ["venv", "-q", venv, "--python", "python3"]);
    await execa("uv", ["pip", "install", "-q", "--python", py, ...pkgs]);
  } else {
    await execa("python3", ["-m", "venv", venv]);
    await execa(py, ["-m", "pip", "install", "-q", ...pkgs]);
  }
  return py;
}

/** Per layer, per expert: how many rows route there. */
export type Counts = Map<number, Map<number, number>>;

/** {layer: {expert: count}} as the Python contenders write it. */
export function readCounts(file: string): Counts {
  const o = JSON.parse(readFileSync(file, "utf8")) as Record<string, Record<string, number>>;
  return new Map(
    Object.entries(o).map(([l, c]) => [Number(l), new Map(Object.entries(c).map(([e, n]) => [Number(e), n]))]),
  );
}

/** The per-layer counts of hist's summary.json. */
export function histCounts(summaryFile: string): Counts {
  const s = JSON.parse(readFileSync(summaryFile, "utf8")) as { layers: { layer: number; counts: number[] }[] };
  return new Map(
    s.layers.map((l) => [l.layer, new Map(l.counts.flatMap((n, e) => (n > 0 ? [[e, n] as [number, number]] : [])))]),
  );
}

/** The counts of `export --format eplb`'s expert_counts.npy (<i8, [layers, experts]), rows in `layers` order. */
export function npyCounts(file: string, layers: readonly number[]): Counts {
  const b = readFileSync(file);
  const headerLen = b.readUInt16LE(8);
  const header = b.toString("latin1", 10, 10 + headerLen);
  const shape = /'shape': \((\d+), (\d+)\)/.exec(header);
  if (!header.includes("'<i8'") || shape === null) throw new Error(`${file}: not an <i8 [L, E] array: ${header}`);
  const [L, E] = [Number(shape[1]), Number(shape[2])];
  const data = new BigInt64Array(b.buffer.slice(b.byteOffset + 10 + headerLen, b.byteOffset + b.length));
  const out: Counts = new Map();
  for (let li = 0; li < L; li++) {
    const m = new Map<number, number>();
    for (let e = 0; e < E; e++) {
      const n = Number(data[li * E + e]);
      if (n > 0) m.set(e, n);
    }
    out.set(layers[li]!, m);
  }
  return out;
}

/** Null when equal, else the first difference. */
export function sameCounts(a: Counts, b: Counts): string | null {
  const layers = new Set([...a.keys(), ...b.keys()]);
  for (const l of layers) {
    const x = a.get(l) ?? new Map();
    const y = b.get(l) ?? new Map();
    for (const e of new Set([...x.keys(), ...y.keys()]))
      if ((x.get(e) ?? 0) !== (y.get(e) ?? 0)) return `layer ${l}, expert ${e}: ${x.get(e) ?? 0} vs ${y.get(e) ?? 0}`;
  }
  return null;
}
