// The server process of `moe-prof serve`, against the STAND-IN server (test/stand-ins/serve-python,
// a Node program that serves the fake OpenAI API and writes a routes log the way the patched vLLM
// does; it is not vLLM): /health bounded, no orphan processes, clean stops leave a complete log.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { freePort, startServer, stopServer, waitHealthy } from "../src/serving/server-process.js";
import { serverEnv, toggleBlocks, mergeRuns } from "../src/serving/serve-pass.js";
import { answerProblem } from "../src/serving/capture-switch.js";
import { runLoad } from "../src/serving/load.js";
import { ROOT, tempDir } from "./helpers.js";

const STANDIN = path.join(ROOT, "test/stand-ins/serve-python");

/** Running: it exists and is not a zombie (here PID 1 does not reap orphans, so dead ones linger as zombies). */
const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
};

async function start(env: Record<string, string>, routes: string | null = null) {
  const dir = tempDir();
  const port = await freePort();
  const args = [
    "-m",
    "vllm.entrypoints.openai.api_server",
    "--model",
    "stand-in/tiny",
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
  ];
  const h = startServer(STANDIN, args, {
    port,
    env: { ...serverEnv(routes), ...env },
    logPath: path.join(dir, "server.log"),
  });
  return { h, dir };
}

test(
  "a stand-in server that never answers /health: a clear error within the bound, then no process of it is left",
  { timeout: 30_000 },
  async () => {
    const pidFile = path.join(tempDir(), "child.pid");
    const { h } = await start({ STANDIN_FAULT: "never-healthy", STANDIN_CHILD_PID_FILE: pidFile });
    const t0 = performance.now();
    await assert.rejects(waitHealthy(h, 2_000), /did not answer http:\/\/127\.0\.0\.1:\d+\/health within 2 s/);
    const waited = performance.now() - t0;
    assert.ok(waited >= 1_900 && waited < 5_000, `${waited} ms`);
    const child = Number(readFileSync(pidFile, "utf8"));
    assert.ok(alive(child) && alive(h.pid));
    // its SIGINT handler exits the server but leaves the engine-core-like child: the group's SIGTERM ends it
    const how = await stopServer(h, 500);
    assert.equal(how, "SIGTERM");
    assert.ok(!alive(h.pid), "server still running");
    assert.ok(!alive(child), "orphan child still running");
  },
);

test("a stand-in server that exits at start: the error names its last line, without waiting for the bound", async () => {
  const { h } = await start({ STANDIN_FAULT: "exit-at-start" });
  const t0 = performance.now();
  await assert.rejects(
    waitHealthy(h, 60_000),
    /exited before answering \/health \(RuntimeError: stand-in told to fail at start\)/,
  );
  assert.ok(performance.now() - t0 < 10_000);
  assert.equal(await stopServer(h, 500), "exited-before");
});

test("a Python that does not exist: one line naming it", async () => {
  const port = await freePort();
  const h = startServer("/nonexistent/python", ["-m", "x"], {
    port,
    env: serverEnv(null),
    logPath: path.join(tempDir(), "s.log"),
  });
  await assert.rejects(waitHealthy(h, 5_000), /Python not found: \/nonexistent\/python/);
});

test("a clean stop (SIGINT) of a log pass's stand-in server leaves the routes log complete, no .partial", async () => {
  const routes = path.join(tempDir(), "moe_routes.jsonl");
  const { h } = await start({}, routes);
  await waitHealthy(h, 20_000);
  const run = await runLoad({
    url: h.url,
    settings: { endpoint: "completions", model: "stand-in/tiny", maxTokens: 4, temperature: 0, ignoreEos: true },
    prompts: ["a b c"],
    shape: { kind: "concurrency", concurrency: 2 },
    count: 3,
    timeLimitS: 20,
    abortFraction: 0,
    abortAfterTokenChunks: 1,
    seed: 1,
  });
  assert.ok(run.records.every((r) => r.status === "ok"));
  assert.ok(existsSync(`${routes}.partial`) && !existsSync(routes));
  assert.equal(await stopServer(h, 10_000), "SIGINT");
  assert.ok(existsSync(routes) && !existsSync(`${routes}.partial`));
  // 3 requests x (3 prompt + 4 generated - 1) positions x 2 layers, after the meta line
  assert.equal(readFileSync(routes, "utf8").trim().split("\n").length, 1 + 3 * 6 * 2);
});

test("a server that ignores SIGINT is ended by SIGTERM after the grace; the no-log env has no VLLM_LOG_MOE", async () => {
  process.env.VLLM_LOG_MOE = "/should/not/be/used.jsonl";
  process.env.VLLM_LOG_MOE_FORMAT = "both";
  process.env.VLLM_LOG_MOE_PAUSED = "1";
  try {
    assert.deepEqual([serverEnv(null).VLLM_LOG_MOE, serverEnv(null).VLLM_LOG_MOE_FORMAT], [undefined, undefined]);
    assert.equal(serverEnv("/x/r.jsonl").VLLM_LOG_MOE, "/x/r.jsonl");
    assert.equal(serverEnv("/x/r.jsonl").VLLM_LOG_MOE_FORMAT, "jsonl");
    assert.equal(serverEnv("/x/r.parquet", "parquet").VLLM_LOG_MOE_FORMAT, "parquet");
    // a pause left in the shell would make a log pass write nothing: only a paused pass sets it
    assert.equal(serverEnv("/x/r.jsonl").VLLM_LOG_MOE_PAUSED, undefined);
    assert.equal(serverEnv("/x/r.jsonl", "jsonl", true).VLLM_LOG_MOE_PAUSED, "1");
    assert.equal(serverEnv(null, "jsonl", true).VLLM_LOG_MOE_PAUSED, undefined);
    // --toggle-capture: /collective_rpc served by every pass's server alike
    assert.deepEqual(
      [
        serverEnv(null, "jsonl", false, true).VLLM_SERVER_DEV_MODE,
        serverEnv("/x/r.jsonl", "jsonl", true, true).VLLM_SERVER_DEV_MODE,
      ],
      ["1", "1"],
    );
  } finally {
    delete process.env.VLLM_LOG_MOE;
    delete process.env.VLLM_LOG_MOE_FORMAT;
    delete process.env.VLLM_LOG_MOE_PAUSED;
  }
  const { h } = await start({ STANDIN_FAULT: "ignore-sigint" });
  await waitHealthy(h, 20_000);
  const t0 = performance.now();
  assert.equal(await stopServer(h, 400), "SIGTERM");
  assert.ok(performance.now() - t0 >= 380 && !alive(h.pid));
});

test("--toggle-capture's blocks: ABBA pairs, sizes within one of each other adding up to the count; merged walls add", () => {
  const plan = (n: number, b: number) =>
    toggleBlocks(n, b)
      .map((x) => `${x.capture}:${x.count}`)
      .join(" ");
  assert.equal(plan(10, 4), "on:3 paused:3 paused:2 on:2");
  assert.equal(plan(16, 8), "on:2 paused:2 paused:2 on:2 on:2 paused:2 paused:2 on:2");
  assert.equal(plan(3, 2), "on:2 paused:1");
  for (const [n, b] of [
    [7, 2],
    [1000, 8],
    [9, 6],
  ] as const) {
    const blocks = toggleBlocks(n, b);
    assert.equal(
      blocks.reduce((a, x) => a + x.count, 0),
      n,
    );
    assert.equal(blocks.filter((x) => x.capture === "on").length, b / 2);
  }
  const run = (wall: number, stop: "count" | "time-limit") => ({
    records: [],
    not_sent: 1,
    wall_s: wall,
    stopped_by: stop,
  });
  assert.deepEqual(mergeRuns([run(1.5, "count"), run(2, "time-limit")]), {
    records: [],
    not_sent: 2,
    wall_s: 3.5,
    stopped_by: "time-limit",
  });
});

test("/collective_rpc's answer: every writing rank switched, at least one writing", () => {
  assert.equal(answerProblem('{"results":[{"active":true,"paused":true}]}', "paused"), null);
  assert.equal(answerProblem('{"results":[{"active":true,"paused":false},{"active":false}]}', "on"), null);
  assert.match(answerProblem('{"results":[{"active":true,"paused":false}]}', "paused")!, /a rank reports paused=false/);
  assert.match(
    answerProblem('{"results":[{"active":false,"disabled_reason":"writer died"}]}', "on")!,
    /no rank is logging \(writer died\)/,
  );
  assert.match(answerProblem("<html>", "on")!, /not JSON/);
  assert.match(answerProblem('{"ok":1}', "on")!, /no "results" list/);
});
