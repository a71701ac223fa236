// Start-up time of the CLI against `node -e 0`: --version, --help, validate --help, and validate
// of a two-line log, interleaved, medians and spreads. Run: node dist/scripts/bench-startup.js [--repeats 21]
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir, loadavg, cpus } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { repeats: { type: "string", default: "21" } } });
const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../src/cli.js");
const dir = mkdtempSync(path.join(tmpdir(), "moe-prof-startup-"));
const log = path.join(dir, "tiny.jsonl");
writeFileSync(
  log,
  JSON.stringify({
    type: "meta",
    model_id: "m",
    vllm_version: "v",
    torch_version: "t",
    device: "d",
    seed: 0,
    layers_logged: [0],
    top_k: 1,
  }) +
    "\n" +
    JSON.stringify({ type: "route", req_id: "0", token_idx: 0, layer: 0, topk_ids: [0], topk_weights: [1] }) +
    "\n",
);
const cases: [string, string[]][] = [
  ["node -e 0", ["-e", "0"]],
  ["moe-prof --version", [cli, "--version"]],
  ["moe-prof --help", [cli, "--help"]],
  ["moe-prof validate --help", [cli, "validate", "--help"]],
  ["moe-prof validate (2-line log)", [cli, "validate", log]],
];
const times = cases.map(() => [] as number[]);
console.log(
  `date ${new Date().toISOString()}, ${cpus().length} cores, load ${loadavg()[0]!.toFixed(2)}, node ${process.version}`,
);
for (let i = 0; i < Number(values.repeats); i++) {
  cases.forEach(([, args], k) => {
    const t = performance.now();
    const r = spawnSync(process.execPath, args, { stdio: "ignore" });
    if (r.status !== 0) throw new Error(`${args.join(" ")} exited ${r.status}`);
    times[k]!.push(performance.now() - t);
  });
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const base = med(times[0]!);
for (const [k, [name]] of cases.entries()) {
  const xs = times[k]!;
  console.log(
    `${name.padEnd(32)} median ${med(xs).toFixed(0).padStart(5)} ms  (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})  ${(med(xs) / base).toFixed(2)}x node -e 0`,
  );
}
console.log(`load at end ${loadavg()[0]!.toFixed(2)}`);
rmSync(dir, { recursive: true, force: true });
