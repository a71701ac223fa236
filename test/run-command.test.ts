// `moe-prof run` end to end on a machine without a GPU: the built CLI drives the stand-in
// test/stand-ins/replay-python, which replays protocol transcripts and the routes log recorded
// from a real H100 run (fixtures/recorded/hf-smoke-h100).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { packageRoot } from "../src/config/package-info.js";
import { tempDir } from "./helpers.js";

const root = packageRoot();
const cli = path.join(root, "dist", "src", "cli.js");
const standIn = path.join(root, "test", "stand-ins", "replay-python");
const replayDir = path.join(root, "fixtures", "recorded", "hf-smoke-h100");
const runArgs = (out: string) => [
  cli,
  "run",
  "--engine",
  "hf",
  "--random-weights",
  "--config",
  path.join(root, "fixtures/models/qwen1.5-moe-a2.7b"),
  "--num-prompts",
  "4",
  "--max-tokens",
  "16",
  "--deterministic",
  "--python",
  standIn,
  "--out",
  out,
];

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; `poll`, if given, is called every 50 ms with the child until it exits. */
function runCli(
  args: string[],
  env: Record<string, string>,
  poll?: (child: ReturnType<typeof spawn>) => void,
): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, MOE_PROF_REPLAY_DIR: replayDir, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = poll ? setInterval(() => poll(child), 50) : undefined;
    child.on("close", (code, signal) => {
      clearInterval(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const tmp = () => tempDir();
const json = (f: string) => JSON.parse(readFileSync(f, "utf8"));

test("a run publishes a complete result directory with checked routes, timing and pictures", async () => {
  const out = path.join(tmp(), "res");
  const r = await runCli(runArgs(out), {});
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!existsSync(`${out}.partial`));
  for (const f of [
    "moe_routes.jsonl",
    "expert_hist.png",
    "expert_heatmap.png",
    "summary.json",
    "timing.json",
    "passes.json",
  ])
    assert.ok(existsSync(path.join(out, f)), f);
  const png = readFileSync(path.join(out, "expert_hist.png"));
  assert.equal(png.subarray(1, 4).toString(), "PNG");
  const timing = json(path.join(out, "timing.json"));
  // The recorded transcripts say: no-log 3.181997 s, log 4.673177 s, 64 output tokens each.
  assert.equal(timing.no_log.generate_s, 3.182);
  assert.equal(timing.log.generate_s, 4.6732);
  assert.equal(timing.no_log.output_tokens, 64);
  assert.equal(timing.no_log.prompt_tokens, 208);
  // tokens/s: 3 decimals per pass (20.113, 13.695); ratios of those, to 4 decimals.
  assert.equal(timing.overhead.tokens_per_s_ratio, Number((13.695 / 20.113).toFixed(4)));
  assert.deepEqual(timing.overhead.paired_tokens_per_s_ratios, [Number((13.695 / 20.113).toFixed(4))]);
  const passes = json(path.join(out, "passes.json"));
  assert.equal(passes[1].capture.out_path, "moe_routes.jsonl");
  assert.equal(passes[1].capture.lines, 6432);
  assert.equal(timing.engine.engine, "hf");
  const summary = json(path.join(out, "summary.json"));
  assert.equal(summary.rows, 6432);
  assert.equal(summary.run.conservation[0].ok, true);
  assert.equal(summary.run.conservation[0].expected_rows_per_layer, 268);
  assert.equal(summary.run.output_agreement[0].identical, 4);
  assert.match(r.stdout, /conservation: ok, 268 rows per layer x 24 layers for 4 requests/);
  assert.match(r.stdout, /all 4 requests generated identical tokens/);
  assert.ok(existsSync(path.join(out, "logs", "worker-log-1.protocol.jsonl")));
});

test("a worker killed mid-pass: exit 1, one line naming the signal, only <out>.partial left", async () => {
  const out = path.join(tmp(), "res");
  const r = await runCli(runArgs(out), { MOE_PROF_REPLAY_FAULT: "kill-after:5" });
  assert.equal(r.code, 1);
  assert.ok(!existsSync(out));
  assert.ok(existsSync(`${out}.partial`));
  const last = r.stderr.trim().split("\n").pop()!;
  assert.match(
    last,
    /^moe-prof: log worker was killed by SIGKILL before reporting a result \(see .*worker-log-1\.log\) \[unfinished run kept in .*res\.partial\]$/,
  );
  assert.doesNotMatch(r.stderr, /\n\s+at /); // no stack trace
});

test("Ctrl-C mid-pass ends the worker's whole process group and exits 130", async () => {
  const dir = tmp();
  const out = path.join(dir, "res");
  const pidFile = path.join(dir, "child.pid");
  let sent = false;
  const r = await runCli(
    runArgs(out),
    { MOE_PROF_REPLAY_FAULT: "hang-after:4", MOE_PROF_REPLAY_CHILD_PID_FILE: pidFile },
    (child) => {
      if (!sent && existsSync(pidFile)) {
        sent = true;
        child.kill("SIGINT");
      }
    },
  );
  // The stand-in writes the pid file once its child runs, then hangs for 300 s.
  assert.ok(sent, `never reached the hang: ${r.stderr}`);
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /interrupted during the log pass; worker stopped/);
  assert.ok(!existsSync(out));
  const childPid = Number(readFileSync(pidFile, "utf8"));
  assert.throws(() => process.kill(childPid, 0), /ESRCH/, "the worker's child process outlived the run");
});
