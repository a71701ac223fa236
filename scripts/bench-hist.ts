// Benchmark: `moe-prof hist` and `validate` against what a user would run instead on the same
// seeded synthetic logs: DuckDB and polars (per-layer expert counts from the JSONL), orjson +
// numpy, and plain Python (json.loads + Counter). DuckDB, polars and orjson are installed by this
// script into a throw-away venv from PyPI (uv if present, else python3 -m venv + pip). Every
// contender writes its per-layer expert counts, which must equal hist's summary.json; runs are
// interleaved (order rotated each repeat); medians, spreads and ratios are printed with the
// machine, its load and the date. Run: scripts/bench-hist [--mb 200,800] [--repeats 5]
import { mkdtempSync, rmSync, statSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir, cpus, loadavg, totalmem } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { execa } from "execa";
import { writeSynthRoutes, DEFAULT_SYNTH } from "./synth-routes.js";

// Each Python contender: argv[1] the log, argv[2] where to write {layer: {expert: count}}.
const PLAIN_PY = `
import collections, json, sys
counts = collections.defaultdict(collections.Counter)
with open(sys.argv[1]) as f:
    for line in f:
        row = json.loads(line)
        if row.get("type") == "route":
            counts[row["layer"]].update(row["topk_ids"])
json.dump({l: dict(c) for l, c in counts.items()}, open(sys.argv[2], "w"))
`;

const ORJSON_PY = `
import sys, json, orjson, numpy as np
layers, ids = [], []
with open(sys.argv[1], "rb") as f:
    for line in f:
        row = orjson.loads(line)
        if row.get("type") == "route":
            layers.append(row["layer"]); ids.append(row["topk_ids"])
L = np.asarray(layers, dtype=np.int64); I = np.asarray(ids, dtype=np.int64)
E = int(I.max()) + 1; n = int(L.max()) + 1
c = np.zeros((n, E), dtype=np.int64)
np.add.at(c, (np.repeat(L, I.shape[1]), I.ravel()), 1)
json.dump({int(l): {int(e): int(c[l, e]) for e in range(E) if c[l, e]} for l in np.unique(L)}, open(sys.argv[2], "w"))
`;

const POLARS_PY = `
import sys, json, polars as pl
q = (pl.scan_ndjson(sys.argv[1], schema={"type": pl.Utf8, "layer": pl.Int64, "topk_ids": pl.List(pl.Int64)})
     .filter(pl.col("type") == "route").explode("topk_ids").group_by(["layer", "topk_ids"]).len())
out = {}
for l, e, n in q.collect().iter_rows():
    out.setdefault(l, {})[e] = n
json.dump(out, open(sys.argv[2], "w"))
`;

const DUCKDB_PY = `
import sys, json, duckdb
rows = duckdb.sql(f"""select layer, e, count(*) from (select layer, unnest(topk_ids) as e
  from read_json('{sys.argv[1]}', format='newline_delimited',
                 columns={{'type': 'VARCHAR', 'layer': 'BIGINT', 'topk_ids': 'BIGINT[]'}})
  where type = 'route') group by layer, e""").fetchall()
out = {}
for l, e, n in rows:
    out.setdefault(l, {})[e] = n
json.dump(out, open(sys.argv[2], "w"))
`;

// Runs a command; prints wall seconds, the child's peak RSS (KiB) and CPU seconds (user + sys).
const MEASURE_PY = `
import resource, subprocess, sys, time
t = time.perf_counter()
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
dt = time.perf_counter() - t
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(dt, u.ru_maxrss, u.ru_utime + u.ru_stime, r.returncode)
`;

const { values: args } = parseArgs({
  options: {
    mb: { type: "string", default: "200" },
    repeats: { type: "string", default: "5" },
    seed: { type: "string", default: "1" },
    venv: { type: "string" },
    keep: { type: "boolean", default: false },
    only: { type: "string" },
  },
});

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const cli = path.join(root, "dist/src/cli.js");
const repeats = Number(args.repeats);

interface Run {
  s: number;
  rssMiB: number;
  cpu: number;
}

async function measure(cmd: string[], env: Record<string, string>): Promise<Run> {
  const { stdout } = await execa("python3", ["-c", MEASURE_PY, ...cmd], { env });
  const [s, kib, cpu, rc] = stdout.trim().split(/\s+/).map(Number);
  if (rc !== 0) throw new Error(`${cmd.join(" ")} exited ${rc}`);
  return { s: s!, rssMiB: kib! / 1024, cpu: cpu! };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** A venv with duckdb, polars, orjson and numpy from PyPI (throw-away unless --venv names one to reuse). */
async function benchVenv(dir: string): Promise<string> {
  const venv = args.venv ?? path.join(dir, "venv");
  const py = path.join(venv, "bin", "python");
  if (existsSync(py)) return py;
  const pkgs = ["duckdb", "polars", "orjson", "numpy"];
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

type Counts = Map<number, Map<number, number>>;

function readCounts(file: string): Counts {
  const o = JSON.parse(readFileSync(file, "utf8")) as Record<string, Record<string, number>>;
  return new Map(
    Object.entries(o).map(([l, c]) => [Number(l), new Map(Object.entries(c).map(([e, n]) => [Number(e), n]))]),
  );
}

function histCounts(summaryFile: string): Counts {
  const s = JSON.parse(readFileSync(summaryFile, "utf8")) as { layers: { layer: number; counts: number[] }[] };
  return new Map(
    s.layers.map((l) => [l.layer, new Map(l.counts.flatMap((n, e) => (n > 0 ? [[e, n] as [number, number]] : [])))]),
  );
}

function sameCounts(a: Counts, b: Counts): string | null {
  const layers = new Set([...a.keys(), ...b.keys()]);
  for (const l of layers) {
    const x = a.get(l) ?? new Map();
    const y = b.get(l) ?? new Map();
    for (const e of new Set([...x.keys(), ...y.keys()]))
      if ((x.get(e) ?? 0) !== (y.get(e) ?? 0)) return `layer ${l}, expert ${e}: ${x.get(e) ?? 0} vs ${y.get(e) ?? 0}`;
  }
  return null;
}

const dir = mkdtempSync(path.join(tmpdir(), "moe-prof-bench-"));
try {
  const date = new Date().toISOString();
  console.log(`date: ${date}`);
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`,
  );
  console.log(
    `load average at start: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")} (1, 5, 15 min; ${cpus().length} cores)`,
  );
  const py = await benchVenv(dir);
  const versions = (
    await execa(py, [
      "-c",
      "import duckdb, polars, orjson, numpy, sys; print('python', sys.version.split()[0], 'duckdb', duckdb.__version__, 'polars', polars.__version__, 'orjson', orjson.__version__, 'numpy', numpy.__version__)",
    ])
  ).stdout;
  console.log(versions);

  for (const mb of args.mb.split(",").map(Number)) {
    const targetBytes = mb * 1e6;
    const log = path.join(dir, `routes-${mb}.jsonl`);
    // Size per request measured on a small sample of the same shape, then scaled to the target.
    const probe = path.join(dir, "probe.jsonl");
    writeSynthRoutes(probe, { ...DEFAULT_SYNTH, seed: Number(args.seed), requests: 20 });
    let requests = Math.max(1, Math.round(targetBytes / (statSync(probe).size / 20)));
    let rows = writeSynthRoutes(log, { ...DEFAULT_SYNTH, seed: Number(args.seed), requests });
    let size = statSync(log).size;
    if (Math.abs(size - targetBytes) > 0.03 * targetBytes) {
      requests = Math.max(1, Math.round((requests * targetBytes) / size));
      rows = writeSynthRoutes(log, { ...DEFAULT_SYNTH, seed: Number(args.seed), requests });
      size = statSync(log).size;
    }
    console.log(
      `\nlog: ${(size / 1e6).toFixed(1)} MB, ${rows.toLocaleString("en-US")} rows, ${requests} requests, ` +
        `${DEFAULT_SYNTH.layers} layers, ${DEFAULT_SYNTH.experts} experts, top-${DEFAULT_SYNTH.topK}, seed ${args.seed}`,
    );

    const out = (name: string) => path.join(dir, `${name}-${mb}`);
    const histOut = out("hist");
    const hist1Out = out("hist1");
    type Contender = { name: string; cmd: string[]; env: Record<string, string>; counts: string | null };
    const all: Contender[] = [
      {
        name: "moe-prof hist",
        cmd: [process.execPath, cli, "hist", log, "--out", histOut],
        env: {},
        counts: path.join(histOut, "summary.json"),
      },
      {
        name: "moe-prof hist, 1 thread",
        cmd: [process.execPath, cli, "hist", log, "--out", hist1Out],
        env: { MOE_PROF_THREADS: "1" },
        counts: path.join(hist1Out, "summary.json"),
      },
      { name: "moe-prof validate", cmd: [process.execPath, cli, "validate", log], env: {}, counts: null },
      {
        name: "duckdb (counts only)",
        cmd: [py, "-c", DUCKDB_PY, log, out("duckdb.json")],
        env: {},
        counts: out("duckdb.json"),
      },
      {
        name: "polars (counts only)",
        cmd: [py, "-c", POLARS_PY, log, out("polars.json")],
        env: {},
        counts: out("polars.json"),
      },
      {
        name: "orjson + numpy",
        cmd: [py, "-c", ORJSON_PY, log, out("orjson.json")],
        env: {},
        counts: out("orjson.json"),
      },
      {
        name: "python json.loads + Counter",
        cmd: ["python3", "-c", PLAIN_PY, log, out("python.json")],
        env: {},
        counts: out("python.json"),
      },
    ];
    const contenders = all.filter((c) => !args.only || args.only.split(",").some((o) => c.name.includes(o)));
    const runs = contenders.map(() => [] as Run[]);
    for (let i = 0; i < repeats; i++) {
      for (let j = 0; j < contenders.length; j++) {
        const k = (i + j) % contenders.length;
        const c = contenders[k]!;
        const r = await measure(c.cmd, c.env);
        runs[k]!.push(r);
        console.log(
          `  run ${i + 1}  ${c.name.padEnd(28)} ${r.s.toFixed(2)} s  cpu ${r.cpu.toFixed(2)} s  peak RSS ${r.rssMiB.toFixed(0)} MiB  (load ${loadavg()[0]!.toFixed(2)})`,
        );
      }
    }
    // Every contender's per-layer expert counts must equal hist's summary.json.
    const ref = contenders[0]!.counts ? histCounts(contenders[0]!.counts) : null;
    const checks = contenders.map((c) => {
      if (!c.counts || !ref) return "-";
      const got = c.name.startsWith("moe-prof") ? histCounts(c.counts) : readCounts(c.counts);
      const diff = sameCounts(ref, got);
      if (diff) throw new Error(`${c.name}: per-layer counts differ from hist's summary.json: ${diff}`);
      return "equal";
    });
    const med = runs.map((rs) => median(rs.map((r) => r.s)));
    const duck = contenders.findIndex((c) => c.name.startsWith("duckdb"));
    console.log("");
    console.log(
      `${(size / 1e6).toFixed(0)} MB${"".padEnd(24)}median wall  (min-max)        median cpu  peak RSS   vs duckdb  MB/s   counts`,
    );
    contenders.forEach((c, k) => {
      const ws = runs[k]!.map((r) => r.s);
      const ratio = duck >= 0 ? `${(med[duck]! / med[k]!).toFixed(2)}x` : "";
      console.log(
        `${c.name.padEnd(30)}${med[k]!.toFixed(2).padStart(8)} s  (${Math.min(...ws).toFixed(2)}-${Math.max(...ws).toFixed(2)})` +
          `${median(runs[k]!.map((r) => r.cpu))
            .toFixed(2)
            .padStart(10)} s ${Math.max(...runs[k]!.map((r) => r.rssMiB))
            .toFixed(0)
            .padStart(6)} MiB ${ratio.padStart(10)} ${(size / 1e6 / med[k]!).toFixed(0).padStart(5)}   ${checks[k]}`,
      );
    });
    const hi = contenders.findIndex((c) => c.name === "moe-prof hist");
    const va = contenders.findIndex((c) => c.name === "moe-prof validate");
    if (hi >= 0 && duck >= 0)
      console.log(
        `hist vs duckdb's counts: ${(med[duck]! / med[hi]!).toFixed(2)}x (>= 1.00 means hist is at least as fast; target >= 1)`,
      );
    if (va >= 0) console.log(`validate: ${(size / 1e6 / med[va]!).toFixed(0)} MB/s (target >= 300)`);
    if (hi >= 0)
      console.log(`hist peak RSS: ${Math.max(...runs[hi]!.map((r) => r.rssMiB)).toFixed(0)} MiB (target < 300)`);
    rmSync(log, { force: true });
  }
  console.log(
    `\nload average at end: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")}`,
  );
  writeFileSync(path.join(dir, "done"), "");
} finally {
  if (args.keep) console.log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
