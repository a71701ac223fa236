// Benchmark: `moe-prof hist` vs the plain Python a user would otherwise write (json.loads per line
// + collections.Counter over topk_ids), on the same seeded synthetic log, alternating the two.
// Prints median wall times, their ratio, and hist's peak RSS. Run: scripts/bench-hist [--mb 200]
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir, cpus } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { execa } from "execa";
import { writeSynthRoutes, DEFAULT_SYNTH } from "./synth-routes.js";

const BASELINE_PY = `
import collections, json, sys
counts = collections.Counter()
with open(sys.argv[1]) as f:
    for line in f:
        row = json.loads(line)
        if row.get("type") == "route":
            counts.update(row["topk_ids"])
print(len(counts))
`;

// Runs a command, reports wall seconds and the child's peak RSS (getrusage, exact, in KiB on Linux).
const MEASURE_PY = `
import resource, subprocess, sys, time
t = time.perf_counter()
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
dt = time.perf_counter() - t
print(dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)
`;

const { values: args } = parseArgs({
  options: {
    mb: { type: "string", default: "200" },
    repeats: { type: "string", default: "5" },
    seed: { type: "string", default: "1" },
    keep: { type: "boolean", default: false },
  },
});

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const cli = path.join(root, "dist/src/cli.js");
const targetBytes = Number(args.mb) * 1e6;
const repeats = Number(args.repeats);

async function measure(cmd: string[], env: Record<string, string>): Promise<{ s: number; rssMiB: number }> {
  const { stdout } = await execa("python3", ["-c", MEASURE_PY, ...cmd], { env });
  const [s, kib, rc] = stdout.trim().split(/\s+/).map(Number);
  if (rc !== 0) throw new Error(`${cmd.join(" ")} exited ${rc}`);
  return { s: s!, rssMiB: kib! / 1024 };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const dir = mkdtempSync(path.join(tmpdir(), "moe-prof-bench-"));
try {
  const log = path.join(dir, "moe_routes.jsonl");
  // Size per request measured on a small sample of the same shape, then scaled to the target.
  const probe = path.join(dir, "probe.jsonl");
  writeSynthRoutes(probe, { ...DEFAULT_SYNTH, seed: Number(args.seed), requests: 20 });
  const perReq = statSync(probe).size / 20;
  let requests = Math.max(1, Math.round(targetBytes / perReq));
  const t0 = performance.now();
  let rows = writeSynthRoutes(log, { ...DEFAULT_SYNTH, seed: Number(args.seed), requests });
  let size = statSync(log).size;
  if (Math.abs(size - targetBytes) > 0.03 * targetBytes) {
    // Request lengths are random: one correction from the measured size lands within a few %.
    requests = Math.max(1, Math.round((requests * targetBytes) / size));
    rows = writeSynthRoutes(log, { ...DEFAULT_SYNTH, seed: Number(args.seed), requests });
    size = statSync(log).size;
  }
  console.log(
    `log: ${(size / 1e6).toFixed(1)} MB, ${rows.toLocaleString("en-US")} rows, ${requests} requests, ` +
      `${DEFAULT_SYNTH.layers} layers, ${DEFAULT_SYNTH.experts} experts, top-${DEFAULT_SYNTH.topK}, seed ${args.seed} ` +
      `(generated in ${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  );
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, node ${process.version}`);

  const hist = [process.execPath, cli, "hist", log, "--out", path.join(dir, "out")];
  const contenders: { name: string; cmd: string[]; env: Record<string, string> }[] = [
    { name: "python json.loads + Counter", cmd: ["python3", "-c", BASELINE_PY, log], env: {} },
    { name: "moe-prof hist", cmd: hist, env: {} },
    { name: "moe-prof hist, 1 thread", cmd: hist, env: { MOE_PROF_THREADS: "1" } },
  ];
  const times = contenders.map(() => [] as number[]);
  const rss = contenders.map(() => 0);
  for (let i = 0; i < repeats; i++) {
    // Rotate the order so page-cache, thermal and neighbour effects fall on all of them.
    for (let j = 0; j < contenders.length; j++) {
      const k = (i + j) % contenders.length;
      const c = contenders[k]!;
      const r = await measure(c.cmd, c.env);
      times[k]!.push(r.s);
      rss[k] = Math.max(rss[k]!, r.rssMiB);
      console.log(`  run ${i + 1}  ${c.name.padEnd(28)} ${r.s.toFixed(2)} s  peak RSS ${r.rssMiB.toFixed(0)} MiB`);
    }
  }
  const med = times.map(median);
  console.log("");
  console.log(`${"".padEnd(30)}median wall   vs python   peak RSS`);
  contenders.forEach((c, k) => {
    console.log(
      `${c.name.padEnd(30)}${med[k]!.toFixed(2).padStart(9)} s ${(med[0]! / med[k]!).toFixed(2).padStart(9)}x ${rss[k]!.toFixed(0).padStart(7)} MiB`,
    );
  });
  console.log(`speed-up of hist over python: ${(med[0]! / med[1]!).toFixed(2)}x (median of ${repeats}; target >= 2x, peak RSS < 300 MiB)`);
} finally {
  if (args.keep) console.log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
