// Benchmark of the what-if commands (cache, place, export, compare) on seeded synthetic logs of
// several sizes: wall time and peak RSS of each, to show that memory does not grow with the log;
// and `export --format eplb` side by side with the plain Python a user would write instead
// (json.loads per line, numpy counts, np.save), the two .npy files checked equal.
// Run: scripts/bench-whatif [--mb 50,200] [--repeats 1] [--seed 1] [--keep]
import { mkdtempSync, rmSync, statSync, mkdirSync } from "node:fs";
import { tmpdir, cpus, loadavg } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { execa } from "execa";
import { writeSynthRoutes, DEFAULT_SYNTH } from "./synth-routes.js";
import { perturbRoutes } from "./perturb-routes.js";

const EPLB_PY = `
import json, sys
import numpy as np
counts = None
with open(sys.argv[1]) as f:
    meta = json.loads(f.readline())
    layers = sorted(meta["layers_logged"])
    index = {l: i for i, l in enumerate(layers)}
    counts = np.zeros((len(layers), meta["num_experts"]), dtype=np.int64)
    for line in f:
        row = json.loads(line)
        counts[index[row["layer"]], row["topk_ids"]] += 1
np.save(sys.argv[2], counts)
`;

const SAME_PY = `
import sys
import numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
print("equal" if a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b) else "DIFFERENT")
`;

const MEASURE_PY = `
import resource, subprocess, sys, time
t = time.perf_counter()
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
dt = time.perf_counter() - t
print(dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)
`;

const { values: args } = parseArgs({
  options: {
    mb: { type: "string", default: "50,200" },
    repeats: { type: "string", default: "1" },
    seed: { type: "string", default: "1" },
    keep: { type: "boolean", default: false },
  },
});

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const cli = path.join(root, "dist/src/cli.js");
const repeats = Number(args.repeats);

async function measure(cmd: string[]): Promise<{ s: number; rssMiB: number }> {
  const { stdout } = await execa("python3", ["-c", MEASURE_PY, ...cmd]);
  const [s, kib, rc] = stdout.trim().split(/\s+/).map(Number);
  if (rc !== 0) throw new Error(`${cmd.join(" ")} exited ${rc}`);
  return { s: s!, rssMiB: kib! / 1024 };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const dir = mkdtempSync(path.join(tmpdir(), "moe-prof-bench-whatif-"));
try {
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, node ${process.version}, load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")}`,
  );
  const probe = path.join(dir, "probe.jsonl");
  writeSynthRoutes(probe, { ...DEFAULT_SYNTH, seed: Number(args.seed), requests: 20 });
  const perReq = statSync(probe).size / 20;
  const table: { size: string; name: string; s: number; rss: number }[] = [];
  for (const mb of args.mb.split(",").map(Number)) {
    const sub = path.join(dir, `${mb}mb`);
    mkdirSync(sub);
    const log = path.join(sub, "moe_routes.jsonl");
    const requests = Math.max(1, Math.round((mb * 1e6) / perReq));
    const rows = writeSynthRoutes(log, { ...DEFAULT_SYNTH, seed: Number(args.seed), requests });
    const other = path.join(sub, "perturbed.jsonl");
    await perturbRoutes(log, other, { seed: Number(args.seed) + 1, keep: 0.3, flip: 0.3 });
    const size = `${(statSync(log).size / 1e6).toFixed(0)} MB`;
    console.log(
      `log ${size}: ${rows.toLocaleString("en-US")} rows, ${requests} requests, ${DEFAULT_SYNTH.layers} layers, ${DEFAULT_SYNTH.experts} experts, top-${DEFAULT_SYNTH.topK}`,
    );
    const out = path.join(sub, "out");
    const pyNpy = path.join(sub, "python_counts.npy");
    const contenders: { name: string; cmd: string[] }[] = [
      { name: "cache (request order)", cmd: [process.execPath, cli, "cache", log, "--out", out] },
      { name: "cache --order step", cmd: [process.execPath, cli, "cache", log, "--order", "step", "--out", out] },
      { name: "place --gpus 2,4,8", cmd: [process.execPath, cli, "place", log, "--gpus", "2,4,8", "--out", out] },
      { name: "export --format eplb", cmd: [process.execPath, cli, "export", log, "--format", "eplb", "--out", out] },
      { name: "python json.loads + numpy (eplb)", cmd: ["python3", "-c", EPLB_PY, log, pyNpy] },
      { name: "export --format r3", cmd: [process.execPath, cli, "export", log, "--format", "r3", "--out", out] },
      { name: "compare (vs perturbed copy)", cmd: [process.execPath, cli, "compare", log, other, "--out", out] },
      { name: "hist (for scale)", cmd: [process.execPath, cli, "hist", log, "--out", out] },
    ];
    const times = contenders.map(() => [] as number[]);
    const rss = contenders.map(() => 0);
    for (let i = 0; i < repeats; i++) {
      for (let j = 0; j < contenders.length; j++) {
        const k = (i + j) % contenders.length;
        const r = await measure(contenders[k]!.cmd);
        times[k]!.push(r.s);
        rss[k] = Math.max(rss[k]!, r.rssMiB);
      }
    }
    contenders.forEach((c, k) => table.push({ size, name: c.name, s: median(times[k]!), rss: rss[k]! }));
    const same = await execa("python3", ["-c", SAME_PY, path.join(out, "expert_counts.npy"), pyNpy]);
    console.log(`  export eplb vs python .npy: ${same.stdout.trim()}`);
  }
  console.log("");
  console.log(`${"command".padEnd(36)}${"log".padStart(8)}  ${"median wall".padStart(11)}  peak RSS`);
  for (const t of table)
    console.log(
      `${t.name.padEnd(36)}${t.size.padStart(8)}  ${t.s.toFixed(2).padStart(9)} s  ${t.rss.toFixed(0).padStart(5)} MiB`,
    );
} finally {
  if (args.keep) console.log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
