// Benchmark: `moe-prof hist` and `validate` (and with --commands all every log command: cache,
// place, export eplb and r3, compare) against what a user would run instead on the same seeded
// synthetic logs: DuckDB and polars (per-layer expert counts from the JSONL), orjson + numpy, and
// plain Python (json.loads + Counter). --files N writes the log as N files (one per "rank", each
// with its own seed, so request ids collide across files) and every contender reads all of them
// (moe-prof the directory, DuckDB and polars the list). DuckDB, polars and orjson are installed
// by this script into a throw-away venv from PyPI (uv if present, else python3 -m venv + pip).
// A reference is computed once by DuckDB (per-layer counts, rows, distinct (file, req_id)); after
// every run each contender's output is compared with it: per-layer counts where the output has
// them (hist, export eplb, the Python contenders), rows and requests where it has those (validate,
// cache, place, export r3, compare); a miss is printed and the script exits 1 at the end.
// --parquet WRITER (duckdb, polars, pyarrow or moe-prof) converts each JSONL file to Parquet with
// that writer's defaults and the meta in `moe_prof.meta` (untimed, after the reference); then every
// contender reads the Parquet files (DuckDB read_parquet, polars scan_parquet; the JSON-only ones
// are left out) and moe-prof's hist and validate run once more through hyparquet for comparison.
// Runs are interleaved (order rotated each repeat); medians, spreads and ratios are printed with
// the machine, its load and the date.
// Run: scripts/bench-hist [--mb 200,800] [--repeats 5] [--files 1] [--commands hist,validate|all] [--parquet WRITER]
import {
  mkdtempSync,
  rmSync,
  statSync,
  readFileSync,
  writeFileSync,
  mkdirSync,
  readdirSync,
  renameSync,
} from "node:fs";
import { tmpdir, cpus, loadavg, totalmem } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { execa } from "execa";
import { writeSynthRoutes, DEFAULT_SYNTH } from "./synth-routes.js";
import {
  measure,
  median,
  benchVenv,
  readCounts,
  histCounts,
  npyCounts,
  sameCounts,
  type Counts,
  type Run,
} from "./bench-lib.js";

// Each Python contender: argv[1] where to write {layer: {expert: count}}, argv[2:] the log's files.
const PLAIN_PY = `
import collections, json, sys
counts = collections.defaultdict(collections.Counter)
for name in sys.argv[2:]:
    with open(name) as f:
        for line in f:
            row = json.loads(line)
            if row.get("type") == "route":
                counts[row["layer"]].update(row["topk_ids"])
json.dump({l: dict(c) for l, c in counts.items()}, open(sys.argv[1], "w"))
`;

const ORJSON_PY = `
import sys, json, orjson, numpy as np
layers, ids = [], []
for name in sys.argv[2:]:
    with open(name, "rb") as f:
        for line in f:
            row = orjson.loads(line)
            if row.get("type") == "route":
                layers.append(row["layer"]); ids.append(row["topk_ids"])
L = np.asarray(layers, dtype=np.int64); I = np.asarray(ids, dtype=np.int64)
E = int(I.max()) + 1; n = int(L.max()) + 1
c = np.zeros((n, E), dtype=np.int64)
np.add.at(c, (np.repeat(L, I.shape[1]), I.ravel()), 1)
json.dump({int(l): {int(e): int(c[l, e]) for e in range(E) if c[l, e]} for l in np.unique(L)}, open(sys.argv[1], "w"))
`;

const POLARS_PY = `
import sys, json, polars as pl
q = (pl.scan_ndjson(sys.argv[2:], schema={"type": pl.Utf8, "layer": pl.Int64, "topk_ids": pl.List(pl.Int64)})
     .filter(pl.col("type") == "route").explode("topk_ids").group_by(["layer", "topk_ids"]).len())
out = {}
for l, e, n in q.collect().iter_rows():
    out.setdefault(l, {})[e] = n
json.dump(out, open(sys.argv[1], "w"))
`;

const DUCKDB_PY = `
import sys, json, duckdb
rows = duckdb.sql(f"""select layer, e, count(*) from (select layer, unnest(topk_ids) as e
  from read_json({sys.argv[2:]!r}, format='newline_delimited',
                 columns={{'type': 'VARCHAR', 'layer': 'BIGINT', 'topk_ids': 'BIGINT[]'}})
  where type = 'route') group by layer, e""").fetchall()
out = {}
for l, e, n in rows:
    out.setdefault(l, {})[e] = n
json.dump(out, open(sys.argv[1], "w"))
`;

const DUCKDB_PARQUET_PY = `
import sys, json, duckdb
rows = duckdb.sql(f"""select layer, e, count(*) from (select layer, unnest(topk_ids) as e
  from read_parquet({sys.argv[2:]!r})) group by layer, e""").fetchall()
out = {}
for l, e, n in rows:
    out.setdefault(l, {})[e] = n
json.dump(out, open(sys.argv[1], "w"))
`;

const POLARS_PARQUET_PY = `
import sys, json, polars as pl
q = pl.scan_parquet(sys.argv[2:]).select("layer", "topk_ids").explode("topk_ids").group_by(["layer", "topk_ids"]).len()
out = {}
for l, e, n in q.collect().iter_rows():
    out.setdefault(l, {})[e] = n
json.dump(out, open(sys.argv[1], "w"))
`;

// JSONL -> Parquet by another writer, its defaults, the meta line as key-value metadata (argv: writer, src, dst).
const TO_PARQUET_PY = `
import sys
writer, src, dst = sys.argv[1:4]
meta = open(src).readline().strip()
cols = ["req_id", "token_idx", "layer", "topk_ids", "topk_weights", "phase", "step", "token_id"]
if writer == "duckdb":
    import duckdb
    q = meta.replace("'", "''")
    duckdb.sql(f"""COPY (SELECT {', '.join(cols)} FROM read_json('{src}', format='newline_delimited') WHERE type = 'route')
      TO '{dst}' (FORMAT parquet, KV_METADATA {{'moe_prof.meta': '{q}'}})""")
else:
    import polars as pl
    df = pl.read_ndjson(src, infer_schema_length=None).filter(pl.col("type") == "route").select(cols)
    if writer == "polars":
        df.write_parquet(dst, metadata={"moe_prof.meta": meta})
    else:
        import pyarrow.parquet as pq
        pq.write_table(df.to_arrow().replace_schema_metadata({"moe_prof.meta": meta}), dst)
`;

// The reference, computed once (not timed): counts, rows and requests told apart by file.
const REFERENCE_PY = `
import sys, json, duckdb
src = f"""read_json({sys.argv[2:]!r}, format='newline_delimited', filename=true,
  columns={{'type': 'VARCHAR', 'req_id': 'VARCHAR', 'layer': 'BIGINT', 'topk_ids': 'BIGINT[]'}})"""
con = duckdb.connect()
con.sql(f"create table r as select filename, req_id, layer, topk_ids from {src} where type = 'route'")
counts = {}
for l, e, n in con.sql("select layer, e, count(*) from (select layer, unnest(topk_ids) as e from r) group by layer, e").fetchall():
    counts.setdefault(l, {})[e] = n
rows = con.sql("select count(*) from r").fetchall()[0][0]
requests = con.sql("select count(*) from (select distinct filename, req_id from r)").fetchall()[0][0]
json.dump({"counts": counts, "rows": rows, "requests": requests}, open(sys.argv[1], "w"))
`;

const { values: args } = parseArgs({
  options: {
    mb: { type: "string", default: "200" },
    repeats: { type: "string", default: "5" },
    seed: { type: "string", default: "1" },
    venv: { type: "string" },
    keep: { type: "boolean", default: false },
    only: { type: "string" },
    files: { type: "string", default: "1" },
    commands: { type: "string", default: "hist,validate" },
    parquet: { type: "string" },
  },
});

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const cli = path.join(root, "dist/src/cli.js");
const repeats = Number(args.repeats);
const nFiles = Math.max(1, Number(args.files));
const ALL_COMMANDS = ["hist", "validate", "cache", "place", "eplb", "r3", "compare"];
const commands = args.commands === "all" ? ALL_COMMANDS : args.commands.split(",");
const PARQUET_WRITERS = ["duckdb", "polars", "pyarrow", "moe-prof"];
if (args.parquet !== undefined && !PARQUET_WRITERS.includes(args.parquet)) {
  console.error(`--parquet: unknown writer "${args.parquet}" (expected ${PARQUET_WRITERS.join(", ")})`);
  process.exit(2);
}

interface Reference {
  counts: Counts;
  rows: number;
  requests: number;
}

function readReference(file: string): Reference {
  const o = JSON.parse(readFileSync(file, "utf8")) as { rows: number; requests: number; counts: unknown };
  const tmp = `${file}.counts.json`;
  writeFileSync(tmp, JSON.stringify(o.counts));
  return { counts: readCounts(tmp), rows: o.rows, requests: o.requests };
}

/** Rows and requests as a command's JSON states them, against the reference. */
function sameTotals(ref: Reference, rows: number, requests: number): string | null {
  if (rows !== ref.rows) return `rows ${rows} vs ${ref.rows}`;
  if (requests !== ref.requests) return `requests ${requests} vs ${ref.requests}`;
  return null;
}

const json = (f: string) => JSON.parse(readFileSync(f, "utf8")) as Record<string, unknown>;

/** Writes the log of about `targetBytes` as `nFiles` files; returns them, rows and requests. */
function writeLog(dir: string, mb: number): { files: string[]; rows: number; requests: number; size: number } {
  const targetBytes = mb * 1e6;
  const seed = Number(args.seed);
  const probe = path.join(dir, "probe.jsonl");
  writeSynthRoutes(probe, { ...DEFAULT_SYNTH, seed, requests: 20 });
  // Size per request measured on a small sample of the same shape, then scaled to the target.
  const perRequest = statSync(probe).size / 20;
  const write = (requests: number) => {
    const per = Math.max(1, Math.round(requests / nFiles));
    if (nFiles === 1) {
      const log = path.join(dir, `routes-${mb}.jsonl`);
      return { files: [log], rows: writeSynthRoutes(log, { ...DEFAULT_SYNTH, seed, requests: per }), requests: per };
    }
    const sub = path.join(dir, `routes-${mb}`);
    rmSync(sub, { recursive: true, force: true });
    mkdirSync(sub);
    let rows = 0;
    const files: string[] = [];
    for (let i = 0; i < nFiles; i++) {
      const f = path.join(sub, `rank${String(i).padStart(3, "0")}.jsonl`);
      rows += writeSynthRoutes(f, { ...DEFAULT_SYNTH, seed: seed + i, requests: per });
      files.push(f);
    }
    return { files, rows, requests: per * nFiles };
  };
  let requests = Math.max(nFiles, Math.round(targetBytes / perRequest));
  let made = write(requests);
  let size = made.files.reduce((a, f) => a + statSync(f).size, 0);
  if (Math.abs(size - targetBytes) > 0.03 * targetBytes) {
    requests = Math.max(nFiles, Math.round((requests * targetBytes) / size));
    made = write(requests);
    size = made.files.reduce((a, f) => a + statSync(f).size, 0);
  }
  return { ...made, size };
}

interface Contender {
  name: string;
  cmd: string[];
  env: Record<string, string>;
  /** Where the command's stdout goes (validate --json), if kept. */
  stdout?: string;
  /** After each run: null when its output agrees with the reference, else the difference. */
  check: ((ref: Reference) => string | null) | null;
  /** cache, place, export, compare: held to within 1.5x of hist. */
  whatIf?: boolean;
}

const dir = mkdtempSync(path.join(tmpdir(), "moe-prof-bench-"));
const misses: string[] = [];
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
  const py = await benchVenv(dir, args.venv);
  const versions = (
    await execa(py, [
      "-c",
      "import duckdb, polars, orjson, numpy, sys; print('python', sys.version.split()[0], 'duckdb', duckdb.__version__, 'polars', polars.__version__, 'orjson', orjson.__version__, 'numpy', numpy.__version__)",
    ])
  ).stdout;
  console.log(versions);

  for (const mb of args.mb.split(",").map(Number)) {
    const { files, rows, requests, size } = writeLog(dir, mb);
    console.log(
      `\nlog: ${(size / 1e6).toFixed(1)} MB in ${files.length} file${files.length === 1 ? "" : "s"}, ${rows.toLocaleString("en-US")} rows, ${requests} requests, ` +
        `${DEFAULT_SYNTH.layers} layers, ${DEFAULT_SYNTH.experts} experts, top-${DEFAULT_SYNTH.topK}, seed ${args.seed}` +
        (files.length > 1 ? ` (+1 per file; request ids repeat in every file)` : ""),
    );
    const refFile = path.join(dir, `reference-${mb}.json`);
    await execa(py, ["-c", REFERENCE_PY, refFile, ...files]);
    const ref = readReference(refFile);
    console.log(`reference (duckdb, once): ${ref.rows} rows, ${ref.requests} distinct (file, req_id)`);
    const jsonlFiles = [...files];
    if (args.parquet !== undefined) {
      for (let i = 0; i < files.length; i++) {
        const dst = files[i]!.replace(/\.jsonl$/, ".parquet");
        if (args.parquet === "moe-prof") {
          const tmp = path.join(dir, "export-tmp");
          await execa(process.execPath, [cli, "export", files[i]!, "--format", "parquet", "--out", tmp]);
          renameSync(path.join(tmp, `${path.basename(dst)}`), dst);
          rmSync(tmp, { recursive: true, force: true });
        } else await execa(py, ["-c", TO_PARQUET_PY, args.parquet, files[i]!, dst]);
        rmSync(files[i]!);
        files[i] = dst;
      }
      const pqSize = files.reduce((a, f) => a + statSync(f).size, 0);
      console.log(`as Parquet written by ${args.parquet} (its defaults): ${(pqSize / 1e6).toFixed(1)} MB`);
    }
    const parquet = args.parquet !== undefined;
    // moe-prof reads one file by its path, several by their directory.
    const input = files.length === 1 ? files[0]! : path.dirname(files[0]!);

    const out = (name: string) => path.join(dir, `${name}-${mb}`);
    const node = (sub: string[]) => [process.execPath, cli, ...sub];
    const layers = Array.from({ length: DEFAULT_SYNTH.layers }, (_, i) => i);
    const histCheck = (summary: string) => (r: Reference) => {
      const s = json(summary);
      return sameCounts(r.counts, histCounts(summary)) ?? sameTotals(r, s.rows as number, s.requests as number);
    };
    const totalsIn = (file: string, pick: (o: Record<string, unknown>) => [number, number]) => (r: Reference) =>
      sameTotals(r, ...pick(json(file)));
    const pyCounts = (name: string, script: string, exe = py): Contender => ({
      name,
      cmd: [exe, "-c", script, out(name.split(" ")[0]!), ...files],
      env: {},
      check: (r) => sameCounts(r.counts, readCounts(out(name.split(" ")[0]!))),
    });
    const all: Contender[] = [];
    if (commands.includes("hist")) {
      all.push(
        {
          name: "moe-prof hist",
          cmd: node(["hist", input, "--out", out("hist")]),
          env: {},
          check: histCheck(path.join(out("hist"), "summary.json")),
        },
        {
          name: "moe-prof hist, 1 thread",
          cmd: node(["hist", input, "--out", out("hist1")]),
          env: { MOE_PROF_THREADS: "1" },
          check: histCheck(path.join(out("hist1"), "summary.json")),
        },
      );
    }
    if (commands.includes("validate"))
      all.push({
        name: "moe-prof validate",
        cmd: node(["validate", input, "--json"]),
        env: {},
        stdout: out("validate.json"),
        check: totalsIn(out("validate.json"), (o) => [o.rows as number, o.requests as number]),
      });
    if (parquet && commands.includes("hist"))
      all.push({
        name: "moe-prof hist via hyparquet",
        cmd: node(["hist", input, "--out", out("histhy")]),
        env: { MOE_PROF_PARQUET_READER: "hyparquet" },
        check: histCheck(path.join(out("histhy"), "summary.json")),
      });
    if (parquet && commands.includes("validate"))
      all.push({
        name: "moe-prof validate via hyparquet",
        cmd: node(["validate", input, "--json"]),
        env: { MOE_PROF_PARQUET_READER: "hyparquet" },
        stdout: out("validatehy.json"),
        check: totalsIn(out("validatehy.json"), (o) => [o.rows as number, o.requests as number]),
      });
    const whatIf = (
      name: string,
      sub: string[],
      file: string,
      pick: (o: Record<string, unknown>) => [number, number],
    ) =>
      all.push({
        name,
        cmd: node([...sub, "--out", out(name.split(" ")[0]!)]),
        env: {},
        check: totalsIn(path.join(out(name.split(" ")[0]!), file), pick),
        whatIf: true,
      });
    const totals = (o: Record<string, unknown>): [number, number] => [o.rows as number, o.requests as number];
    if (commands.includes("cache")) whatIf("cache", ["cache", input], "cache.json", totals);
    if (commands.includes("place"))
      whatIf("place --gpus 2,4,8", ["place", input, "--gpus", "2,4,8"], "placement.json", totals);
    if (commands.includes("eplb"))
      all.push({
        name: "export --format eplb",
        cmd: node(["export", input, "--format", "eplb", "--out", out("eplb")]),
        env: {},
        whatIf: true,
        check: (r) =>
          sameCounts(r.counts, npyCounts(path.join(out("eplb"), "expert_counts.npy"), layers)) ??
          sameTotals(r, ...totals(json(path.join(out("eplb"), "export_eplb.json")))),
      });
    if (commands.includes("r3"))
      whatIf("export --format r3", ["export", input, "--format", "r3"], "export_r3.json", totals);
    if (commands.includes("compare"))
      // Against itself: every row matched (rows of a = matched rows = the reference's).
      whatIf("compare (with itself)", ["compare", input, input], "compare.json", (o) => {
        const a = o.a as { rows: number; requests: number };
        const aligned = o.aligned as { rows: number } | null;
        return [aligned?.rows === a.rows ? a.rows : -1, a.requests];
      });
    if (parquet)
      all.push(
        pyCounts("duckdb (counts only)", DUCKDB_PARQUET_PY),
        pyCounts("polars (counts only)", POLARS_PARQUET_PY),
      );
    else
      all.push(
        pyCounts("duckdb (counts only)", DUCKDB_PY),
        pyCounts("polars (counts only)", POLARS_PY),
        pyCounts("orjson + numpy", ORJSON_PY),
        pyCounts("python json.loads + Counter", PLAIN_PY, "python3"),
      );
    const contenders = all.filter((c) => !args.only || args.only.split(",").some((o) => c.name.includes(o)));
    const runs = contenders.map(() => [] as Run[]);
    const checks = contenders.map(() => "equal");
    for (let i = 0; i < repeats; i++) {
      for (let j = 0; j < contenders.length; j++) {
        const k = (i + j) % contenders.length;
        const c = contenders[k]!;
        const r = await measure(c.cmd, c.env, c.stdout);
        runs[k]!.push(r);
        const miss = c.check?.(ref) ?? null;
        if (miss !== null) {
          checks[k] = "DIFFERENT";
          misses.push(`${mb} MB, run ${i + 1}, ${c.name}: ${miss}`);
        }
        console.log(
          `  run ${i + 1}  ${c.name.padEnd(28)} ${r.s.toFixed(2)} s  cpu ${r.cpu.toFixed(2)} s  peak RSS ${r.rssMiB.toFixed(0)} MiB  (load ${loadavg()[0]!.toFixed(2)})${miss ? `  MISS: ${miss}` : ""}`,
        );
      }
    }
    const med = runs.map((rs) => median(rs.map((r) => r.s)));
    const duck = contenders.findIndex((c) => c.name.startsWith("duckdb"));
    const hi = contenders.findIndex((c) => c.name === "moe-prof hist");
    console.log("");
    console.log(
      `${(size / 1e6).toFixed(0)} MB, ${files.length} file${files.length === 1 ? "" : "s"}${"".padEnd(13)}median wall  (min-max)        median cpu  peak RSS   vs duckdb  vs hist  MB/s   counts`,
    );
    contenders.forEach((c, k) => {
      const ws = runs[k]!.map((r) => r.s);
      const ratio = duck >= 0 ? `${(med[duck]! / med[k]!).toFixed(2)}x` : "";
      const vsHist = hi >= 0 ? `${(med[k]! / med[hi]!).toFixed(2)}x` : "";
      console.log(
        `${c.name.padEnd(30)}${med[k]!.toFixed(2).padStart(8)} s  (${Math.min(...ws).toFixed(2)}-${Math.max(...ws).toFixed(2)})` +
          `${median(runs[k]!.map((r) => r.cpu))
            .toFixed(2)
            .padStart(10)} s ${Math.max(...runs[k]!.map((r) => r.rssMiB))
            .toFixed(0)
            .padStart(
              6,
            )} MiB ${ratio.padStart(10)} ${vsHist.padStart(8)} ${(size / 1e6 / med[k]!).toFixed(0).padStart(5)}   ${checks[k]}`,
      );
    });
    const va = contenders.findIndex((c) => c.name === "moe-prof validate");
    if (hi >= 0 && duck >= 0)
      console.log(
        `hist vs duckdb's counts: ${(med[duck]! / med[hi]!).toFixed(2)}x (>= 1.00 means hist is at least as fast; target >= 1)`,
      );
    if (va >= 0) console.log(`validate: ${(size / 1e6 / med[va]!).toFixed(0)} MB/s (target >= 300)`);
    if (hi >= 0) {
      console.log(`hist peak RSS: ${Math.max(...runs[hi]!.map((r) => r.rssMiB)).toFixed(0)} MiB (target < 300)`);
      const slow = contenders.filter((c, k) => c.whatIf && med[k]! > 1.5 * med[hi]!);
      if (contenders.some((c) => c.whatIf))
        console.log(
          `what-ifs within 1.5x of hist (target): ${slow.length === 0 ? "all" : `not ${slow.map((c) => c.name).join(", ")}`}`,
        );
    }
    for (const f of [...files, ...jsonlFiles]) rmSync(f, { force: true });
    for (const d of readdirSync(dir))
      if (d.startsWith(`routes-${mb}`)) rmSync(path.join(dir, d), { recursive: true, force: true });
  }
  console.log(
    `\nload average at end: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")}`,
  );
  if (misses.length > 0) {
    console.log(`\n${misses.length} run(s) whose output differs from the reference:`);
    for (const m of misses) console.log(`  ${m}`);
    process.exitCode = 1;
  } else console.log("every run's output agreed with the reference");
} finally {
  if (args.keep) console.log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
