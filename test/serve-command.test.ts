// `moe-prof serve` end to end against the STAND-IN server (test/stand-ins/serve-python: a Node
// program that serves the fake OpenAI API and writes a routes log the way the patched vLLM does;
// it is NOT vLLM). What ran on real vLLM: nothing here. Also the attribution join on its own.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { attributeRows, loggedRequestId } from "../src/serving/attribution.js";
import { planServePasses } from "../src/passes/plan.js";
import { compareLevels } from "../src/serving/serving-json.js";
import type { ServedPass } from "../src/serving/serve-pass.js";
import type { LoadSummary } from "../src/serving/load-summary.js";
import type { RequestRecord } from "../src/serving/stream-request.js";
import type { ServingReport } from "../src/serving/serving-json.js";
import { CLI, ROOT, tempDir } from "./helpers.js";

const STANDIN = path.join(ROOT, "test/stand-ins/serve-python");

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function serve(args: string[], env: Record<string, string> = {}): Promise<Ran> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, "serve", "--python", STANDIN, "--model", "stand-in/tiny", ...args], {
      env: { ...process.env, STANDIN_FIRST_MS: "10", STANDIN_GAP_MS: "2", ...env },
    });
    let [stdout, stderr] = ["", ""];
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr, ms: performance.now() - t0 }));
  });
}

const json = (f: string) => JSON.parse(readFileSync(f, "utf8")) as ServingReport;

/** Rows per req_id per layer, counted straight from the JSONL (independent of moe-prof's scanner). */
function rowsByRequest(file: string): Map<string, Map<number, number[]>> {
  const out = new Map<string, Map<number, number[]>>();
  for (const line of readFileSync(file, "utf8").trim().split("\n").slice(1)) {
    const r = JSON.parse(line) as { req_id: string; layer: number; token_idx: number };
    const layers = out.get(r.req_id) ?? new Map<number, number[]>();
    layers.set(r.layer, [...(layers.get(r.layer) ?? []), r.token_idx]);
    out.set(r.req_id, layers);
  }
  return out;
}

test("serve (stand-in server): two passes, two levels, disconnects; every completed request's rows under its response id", async () => {
  const out = path.join(tempDir(), "res");
  const r = await serve(
    [
      "--concurrency",
      "1,3",
      "--num-requests",
      "6",
      "--max-tokens",
      "5",
      "--num-prompts",
      "2", // each prompt 3 times a level, at most 2 of them disconnected: one completes
      "--abort-fraction",
      "0.34",
      "--abort-after",
      "2",
      "--out",
      out,
    ],
    { STANDIN_GAP_MS: "25" },
  ); // slow enough that a disconnect after 2 tokens reaches it before the 5th
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!existsSync(`${out}.partial`));
  for (const f of [
    "serving.json",
    "serving_latency.png",
    "moe_routes.jsonl",
    "expert_hist.png",
    "expert_heatmap.png",
    "summary.json",
  ])
    assert.ok(existsSync(path.join(out, f)), f);
  assert.ok(!existsSync(path.join(out, "moe_routes.jsonl.partial")));
  assert.deepEqual(readdirSync(path.join(out, "logs")).sort(), ["server-log-1.log", "server-no_log-1.log"]);
  const s = json(path.join(out, "serving.json"));
  assert.equal(s.complete, true);
  assert.deepEqual(
    s.passes.map((p) => [p.pass, p.stopped_by, p.routes_log?.state ?? null]),
    [
      ["no_log", "SIGINT", null],
      ["log", "SIGINT", "complete"],
    ],
  );
  for (const p of s.passes)
    for (const l of p.levels) {
      assert.deepEqual([l.requests.planned, l.requests.ok, l.requests.aborted, l.requests.failed], [6, 4, 2, 0]);
      assert.equal(l.requests_detail.length, 6);
      assert.equal(l.output_tokens, 4 * 5);
    }
  assert.deepEqual(
    s.comparison.map((c) => c.level),
    [1, 3],
  );
  const logPass = s.passes[1]!;
  const att = logPass.attribution!;
  assert.equal(att.ok, true, JSON.stringify(att.violations));
  assert.equal(att.complete, 1 + 2 * 4, "warm-up + 4 completed per level");
  assert.equal(att.aborted.length, 4);
  // the join, checked by hand from the raw log: completions' rows are under "<response id>-0"
  const rows = rowsByRequest(path.join(out, "moe_routes.jsonl"));
  const all = [...logPass.levels.flatMap((l) => l.requests_detail)];
  for (const q of all) {
    const got = rows.get(`${q.response_id}-0`);
    assert.ok(got, `no rows for ${q.response_id}`);
    if (q.status === "ok") {
      const want = q.prompt_tokens! + q.output_tokens - 1;
      for (const layer of [0, 1])
        assert.deepEqual(
          got.get(layer),
          Array.from({ length: want }, (_, i) => i),
        );
    } else {
      assert.equal(q.status, "aborted");
      // no usage for a disconnected stream: its prompt's length from a completed request with that prompt
      const P = all.find((o) => o.status === "ok" && o.prompt_index === q.prompt_index)!.prompt_tokens!;
      assert.equal(q.prompt_tokens, null);
      assert.ok(got.get(0)!.length < P + 5 - 1, "an aborted request has fewer rows than a complete one");
    }
  }
  assert.equal(rows.size, 1 + 12, "warm-up + 12 requests, nothing else in the log");
  assert.match(r.stdout, /attribution \(log\): 9 completed requests with all their rows, 4 disconnected requests/);
  assert.match(r.stdout, /concurrency 3: log\/no-log {2}TTFT p50 \d/);
});

test("serve (stand-in server), chat, stopping at end-of-sequence: ids equal the response ids; the row after the stop is allowed", async () => {
  const out = path.join(tempDir(), "res");
  const r = await serve([
    "--endpoint",
    "chat",
    "--no-ignore-eos",
    "--concurrency",
    "2",
    "--num-requests",
    "4",
    "--max-tokens",
    "9",
    "--out",
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const s = json(path.join(out, "serving.json"));
  const detail = s.passes[1]!.levels[0]!.requests_detail;
  assert.ok(detail.every((q) => q.finish_reason === "stop" && /^chatcmpl-[0-9a-f]{16}$/.test(q.response_id ?? "")));
  const rows = rowsByRequest(path.join(out, "moe_routes.jsonl"));
  for (const q of detail) assert.equal(rows.get(q.response_id!)!.get(0)!.length, q.prompt_tokens! + q.output_tokens);
  assert.equal(s.passes[1]!.attribution!.ok, true);
});

test("serve --vllm-capture: a third server per repeat with vLLM's capture flag and no VLLM_LOG_MOE, compared with no-log; per-level request counts", async () => {
  const out = path.join(tempDir(), "res");
  const r = await serve(
    ["--vllm-capture", "--concurrency", "2,1", "--num-requests", "4,3", "--max-tokens", "6", "--out", out],
    { STANDIN_GAP_MS: "15" },
  );
  assert.equal(r.code, 0, r.stderr);
  const s = json(path.join(out, "serving.json"));
  // counts pair with the levels as given (2 -> 4, 1 -> 3), listed in ascending level order
  assert.deepEqual(s.load.num_requests, [3, 4]);
  for (const p of s.passes)
    assert.deepEqual(
      p.levels.map((l) => [l.level, l.requests.planned, l.requests.ok]),
      [
        [1, 3, 3],
        [2, 4, 4],
      ],
    );
  assert.deepEqual(
    s.passes.map((p) => [p.pass, p.routes_log?.state ?? null, p.command.includes("--enable-return-routed-experts")]),
    [
      ["no_log", null, false],
      ["log", "complete", false],
      ["vllm_capture", null, true],
    ],
  );
  assert.deepEqual(readdirSync(path.join(out, "logs")).sort(), [
    "server-log-1.log",
    "server-no_log-1.log",
    "server-vllm_capture-1.log",
  ]);
  const c = s.comparison[0]!;
  // the stand-in streams 3x slower with vLLM's flag: the ratio is that pass's, not the log pass's
  assert.ok(c.vllm_capture_over_no_log!.itl_p50_s! > 2, JSON.stringify(c.vllm_capture_over_no_log));
  assert.ok(c.log_over_no_log.itl_p50_s! < 2, JSON.stringify(c.log_over_no_log));
  assert.match(r.stdout, /concurrency 2: vLLM capture\/no-log {2}TTFT p50 \d/);
  assert.equal(s.passes[1]!.attribution!.ok, true);
  assert.equal(s.passes[1]!.attribution!.complete, 1 + 3 + 4, "warm-up + every level's requests");
});

test("serve --paused-capture: a server per repeat with VLLM_LOG_MOE_PAUSED=1, compared with no-log; its log checked empty and removed", async () => {
  const out = path.join(tempDir(), "res");
  const r = await serve(
    [
      "--paused-capture",
      "--repeats",
      "2",
      "--concurrency",
      "2",
      "--num-requests",
      "3",
      "--max-tokens",
      "4",
      "--out",
      out,
    ],
    { VLLM_LOG_MOE_PAUSED: "1" }, // left in the shell: must not pause the log passes
  );
  assert.equal(r.code, 0, r.stderr);
  const s = json(path.join(out, "serving.json"));
  assert.deepEqual(
    s.passes.map((p) => [p.pass, p.repeat, p.routes_log?.state ?? null, p.attribution?.ok ?? null]),
    [
      ["no_log", 1, null, null],
      ["log", 1, "complete", true],
      ["log_paused", 1, "complete", null],
      ["log_paused", 2, "complete", null],
      ["log", 2, "complete", true],
      ["no_log", 2, null, null],
    ],
  );
  assert.equal(s.passes[1]!.attribution!.complete, 1 + 3);
  assert.ok(s.comparison[0]!.log_paused_over_no_log!.output_tokens_per_s! > 0);
  assert.match(r.stdout, /concurrency 2: paused\/no-log {2}TTFT p50 \d/);
  assert.deepEqual(
    readdirSync(out).filter((f) => f.startsWith("moe_routes")),
    ["moe_routes.jsonl"],
    "the paused passes' logs are not results",
  );
});

test("serve --paused-capture: a capture that logs while paused fails the run, naming the file", async () => {
  const out = path.join(tempDir(), "res");
  const r = await serve(
    ["--paused-capture", "--concurrency", "1", "--num-requests", "2", "--max-tokens", "3", "--out", out],
    { STANDIN_FAULT: "log-while-paused" },
  );
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    /moe_routes\.paused1\.jsonl: \d+ route rows from the paused pass \(log-paused\): the capture did not stay paused/,
  );
  assert.ok(!existsSync(out));
});

test("serve --toggle-capture: one log server alternates blocks with the capture on and paused (ABBA), switched over /collective_rpc; paused requests have no rows", async () => {
  const out = path.join(tempDir(), "res");
  const r = await serve(
    ["--toggle-capture", "4", "--concurrency", "2", "--num-requests", "12", "--max-tokens", "4", "--out", out],
    { VLLM_SERVER_DEV_MODE: "0" }, // serve sets it to 1 for every pass
  );
  assert.equal(r.code, 0, r.stderr);
  const s = json(path.join(out, "serving.json"));
  assert.equal(s.load.toggle_capture_blocks, 4);
  type Level = (typeof s.passes)[0]["levels"][0] & {
    blocks: Array<{ block: number; capture: string; requests: { planned: number; ok: number } }>;
    requests_detail: Array<{ response_id: string; capture: string; block: number }>;
  };
  const log = s.passes.find((p) => p.pass === "log")!;
  const level = log.levels[0]! as Level;
  assert.deepEqual(
    level.blocks.map((b) => [b.block, b.capture, b.requests.planned, b.requests.ok]),
    [
      [1, "on", 3, 3],
      [2, "paused", 3, 3],
      [3, "paused", 3, 3],
      [4, "on", 3, 3],
    ],
  );
  assert.equal(level.requests.planned, 6, "the level's summary is of the blocks with the capture on");
  // the no-log server got the same blocks; its level numbers are of the same positions (1 and 4)
  const noLog = s.passes.find((p) => p.pass === "no_log")!.levels[0]! as Level;
  assert.deepEqual(
    noLog.blocks.map((b) => [b.capture, b.requests.planned]),
    [
      ["none", 3],
      ["none", 3],
      ["none", 3],
      ["none", 3],
    ],
  );
  assert.equal(noLog.requests.planned, 6);
  assert.equal(level.requests_detail.length, 12);
  assert.deepEqual(
    level.requests_detail.map((d) => d.block),
    [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4],
  );
  // straight from the JSONL: rows exactly for the warm-up and the on blocks' requests
  const rows = rowsByRequest(path.join(out, "moe_routes.jsonl"));
  const ids = (capture: string) =>
    level.requests_detail
      .filter((d) => d.capture === capture)
      .map((d) => loggedRequestId("completions", d.response_id));
  assert.equal(rows.size, 1 + 6);
  for (const id of ids("on")) assert.ok(rows.has(id), id);
  for (const id of ids("paused")) assert.ok(!rows.has(id), id);
  assert.deepEqual([log.attribution!.ok, log.attribution!.complete, log.attribution!.paused], [true, 1 + 6, 6]);
  const c = s.comparison[0]!;
  assert.equal(c.log_over_paused_same_server!.pairs, 2);
  assert.equal(c.log_over_paused_same_server!.per_pair.length, 2);
  assert.match(r.stdout, /concurrency 2: log\/paused, same server \(2 block pairs\) {2}TTFT p50 \d/);
  assert.match(
    r.stdout,
    /attribution \(log\): 7 completed requests with all their rows, 6 sent while paused with none/,
  );
  assert.match(r.stderr, /log: concurrency 2, block 2\/4 \(paused\): 3\/3 ok/);
});

test("serve --toggle-capture: a capture that does not switch fails the run and keeps the block measured before; rows while paused fail the attribution", async () => {
  const out = path.join(tempDir(), "res");
  const args = ["--toggle-capture", "4", "--concurrency", "1", "--num-requests", "4", "--max-tokens", "3"];
  const ignored = await serve([...args, "--out", out], { STANDIN_FAULT: "rpc-ignored" });
  assert.equal(ignored.code, 1, ignored.stderr);
  assert.match(
    ignored.stderr,
    /log pass: switching the capture to paused \(POST http:\/\/127\.0\.0\.1:\d+\/collective_rpc moe_prof_control pause\): a rank reports paused=false .*server output: /,
  );
  assert.ok(!existsSync(out));
  const kept = json(path.join(`${out}.partial`, "serving.json"));
  const failed = kept.failed_pass! as {
    pass: string;
    levels: Array<{ blocks: Array<{ capture: string; requests: { ok: number } }> }>;
  };
  assert.equal(failed.pass, "log");
  assert.deepEqual(
    failed.levels[0]!.blocks.map((b) => [b.capture, b.requests.ok]),
    [["on", 1]],
  );
  const leaky = await serve([...args, "--out", path.join(tempDir(), "res")], { STANDIN_FAULT: "log-while-paused" });
  assert.equal(leaky.code, 1, leaky.stderr);
  assert.match(
    leaky.stderr,
    /attribution FAILED: request cmpl-\w+ \(log req_id cmpl-\w+-0\) was sent while the capture was paused, yet has \d+ rows in layer 0/,
  );
});

test("serve --toggle-capture: the level's time limit bounds all its blocks; blocks past it send nothing and their pairs are left out", async () => {
  const out = path.join(tempDir(), "res");
  const r = await serve(
    [
      ...["--toggle-capture", "4", "--concurrency", "2", "--num-requests", "8", "--max-tokens", "20"],
      ...["--time-limit", "1.5", "--warmup-requests", "0", "--out", out],
    ],
    { STANDIN_GAP_MS: "50" }, // a request takes ~1 s: block 1 completes, block 2 is cut
  );
  assert.equal(r.code, 1, r.stderr);
  const s = json(path.join(out, "serving.json"));
  assert.equal(s.complete, false);
  const level = s.passes.find((p) => p.pass === "log")!.levels[0]! as (typeof s.passes)[0]["levels"][0] & {
    blocks: Array<{ capture: string; requests: { ok: number; cut: number; not_sent: number }; stopped_by: string }>;
  };
  assert.deepEqual(
    level.blocks.map((b) => [b.capture, b.requests.ok, b.requests.cut, b.requests.not_sent, b.stopped_by]),
    [
      ["on", 2, 0, 0, "count"],
      ["paused", 0, 2, 0, "time-limit"],
      ["paused", 0, 0, 2, "time-limit"],
      ["on", 0, 0, 2, "time-limit"],
    ],
  );
  assert.deepEqual([level.complete, level.stopped_by], [false, "time-limit"]);
  assert.equal(s.comparison[0]!.log_over_paused_same_server, undefined, "no pair has two complete blocks");
  assert.match(r.stderr, /log pass, level 2, block 2 \(paused\): incomplete/);
});

test("serve --log-format parquet: the capture asked for Parquet, moe_routes.parquet analysed and attributed; a format in the caller's shell does not leak", async () => {
  const out = path.join(tempDir(), "res");
  const r = await serve(
    ["--log-format", "parquet", "--concurrency", "2", "--num-requests", "3", "--max-tokens", "4", "--out", out],
    {
      VLLM_LOG_MOE_FORMAT: "jsonl",
    },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    ["moe_routes.parquet", "moe_routes.jsonl"].map((f) => existsSync(path.join(out, f))),
    [true, false],
  );
  assert.equal(readFileSync(path.join(out, "moe_routes.parquet")).subarray(0, 4).toString(), "PAR1");
  assert.match(r.stdout, /files: moe_routes\.parquet, /);
  const s = json(path.join(out, "serving.json"));
  assert.equal(s.load.log_format, "parquet");
  assert.deepEqual(s.passes[1]!.routes_log, { file: "moe_routes.parquet", state: "complete" });
  assert.equal(s.passes[1]!.attribution!.ok, true);
  assert.equal(s.passes[1]!.attribution!.complete, 1 + 3);
});

test("serve: a server that dies mid-run: exit 1 naming it, nothing published, serving.json kept incomplete", async () => {
  const out = path.join(tempDir(), "res");
  const r = await serve(["--concurrency", "2", "--num-requests", "20", "--max-tokens", "5", "--out", out], {
    STANDIN_FAULT: "die-after:6",
  });
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    /no-log pass: the server stopped answering at concurrency 2: \d+ requests failed, \d+ not sent/,
  );
  assert.match(r.stderr, /unfinished run kept in/);
  assert.ok(!existsSync(out) && existsSync(`${out}.partial`));
  const s = json(path.join(`${out}.partial`, "serving.json"));
  assert.equal(s.complete, false);
  assert.equal(s.failed_pass!.pass, "no_log");
  assert.ok(s.failed_pass!.levels[0]!.requests.failed >= 1);
});

test("serve: a server that only SIGKILL stops: its log stays .partial and is not analysed; exit 1", async () => {
  const out = path.join(tempDir(), "res");
  const r = await serve(
    ["--concurrency", "1", "--num-requests", "2", "--max-tokens", "3", "--stop-timeout", "0.3", "--out", out],
    {
      STANDIN_FAULT: "hang-on-stop",
    },
  );
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    /log pass: the routes log was left as moe_routes\.jsonl\.partial \(the server was stopped by SIGKILL/,
  );
  assert.ok(!existsSync(out) && existsSync(path.join(`${out}.partial`, "moe_routes.jsonl.partial")));
});

test("serve: a server that never answers /health: exit 2 within the bound, its child process ended", async () => {
  const dir = tempDir();
  const pidFile = path.join(dir, "child.pid");
  const r = await serve(["--health-timeout", "2", "--stop-timeout", "1", "--out", path.join(dir, "res")], {
    STANDIN_FAULT: "never-healthy",
    STANDIN_CHILD_PID_FILE: pidFile,
  });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /did not answer http:\/\/127\.0\.0\.1:\d+\/health within 2 s/);
  assert.ok(r.ms < 12_000, `${r.ms} ms`);
  const child = Number(readFileSync(pidFile, "utf8"));
  let state = "gone";
  try {
    const stat = readFileSync(`/proc/${child}/stat`, "utf8");
    state = stat.slice(stat.lastIndexOf(")") + 2)[0]!;
  } catch {
    /* gone */
  }
  assert.ok(state === "gone" || state === "Z", `the server's child is still running (${state})`);
});

test("usage: --request-rate and --concurrency together, and a bad rate, are refused before anything starts", async () => {
  const a = await serve(["--concurrency", "2", "--request-rate", "1"]);
  assert.equal(a.code, 2);
  assert.match(a.stderr, /--request-rate: give --request-rate or --concurrency, not both/);
  const b = await serve(["--request-rate", "0,2"]);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /--request-rate: cannot read "0"/);
  const c = await serve(["--concurrency", "1,8,32", "--num-requests", "16,64"]);
  assert.equal(c.code, 2);
  assert.match(c.stderr, /--num-requests: 2 counts for 3 load levels \(give one count, or one per level\)/);
  const d = await serve(["--concurrency", "1", "--num-requests", "0"]);
  assert.equal(d.code, 2);
  assert.match(d.stderr, /--num-requests: cannot read "0"/);
  const e = await serve(["--concurrency", "1", "--num-requests", "8", "--toggle-capture", "2"]);
  assert.equal(e.code, 2);
  assert.match(
    e.stderr,
    /--toggle-capture: blocks come in ABBA quartets \(on, paused, paused, on\): give a multiple of 4/,
  );
  const f = await serve(["--concurrency", "1,4", "--num-requests", "8,10", "--toggle-capture", "4"]);
  assert.equal(f.code, 2);
  assert.match(
    f.stderr,
    /--toggle-capture: 4 blocks of equal size need every level's --num-requests to be a multiple of 4 \(got 10\)/,
  );
});

function rec(over: Partial<RequestRecord>): RequestRecord {
  return {
    index: 0,
    prompt_index: 0,
    status: "ok",
    response_id: "cmpl-a",
    sent_at_s: 0,
    ttft_s: 0.1,
    itl_s: [],
    e2e_s: 0.2,
    output_tokens: 3,
    tokens_from: "usage",
    token_chunks: 3,
    prompt_tokens: 4,
    cached_tokens: null,
    finish_reason: "length",
    error: null,
    connection_lost: false,
    ...over,
  };
}
const logged = (req_id: string, n: number, first = 0) => ({
  req_id,
  rows_per_layer: [n, n],
  min_token_idx: first,
  max_token_idx: first + n - 1,
});

test("attribution: the vLLM id mapping, conservation per request, aborted never complete, strangers reported", () => {
  assert.equal(loggedRequestId("completions", "cmpl-0123456789abcdef"), "cmpl-0123456789abcdef-0");
  assert.equal(loggedRequestId("chat", "chatcmpl-0123456789abcdef"), "chatcmpl-0123456789abcdef");
  const ok = attributeRows(
    "completions",
    [rec({}), rec({ response_id: "cmpl-b", status: "aborted" })],
    [logged("cmpl-a-0", 6), logged("cmpl-b-0", 2)],
    [0, 1],
  );
  assert.deepEqual([ok.ok, ok.complete, ok.aborted.length, ok.aborted[0]!.rows_per_layer], [true, 1, 1, 2]);
  // one row short; rows of a request nobody sent; a completed request with no rows at all
  const bad = attributeRows(
    "completions",
    [rec({}), rec({ response_id: "cmpl-c" })],
    [logged("cmpl-a-0", 5), logged("cmpl-zzz-0", 3)],
    [0, 1],
  );
  assert.equal(bad.ok, false);
  assert.equal(bad.complete, 0);
  assert.deepEqual(bad.unattributed, ["cmpl-zzz-0"]);
  assert.ok(
    bad.violations.some((v) => /request cmpl-a \(log req_id cmpl-a-0\), layer 0: 5 rows, expected 6/.test(v)),
    bad.violations.join("|"),
  );
  assert.ok(bad.violations.some((v) => /request cmpl-c .*no rows in the log/.test(v)));
  // the chat id is the response id itself: rows under "<id>-0" would not be this request's
  const chat = attributeRows("chat", [rec({ response_id: "chatcmpl-a" })], [logged("chatcmpl-a-0", 6)], [0, 1]);
  assert.equal(chat.ok, false);
  // stop before max_tokens: P + G - 1 or one more (async scheduling); nothing else
  const stop = (n: number) =>
    attributeRows("chat", [rec({ response_id: "x", finish_reason: "stop" })], [logged("x", n)], [0, 1]).ok;
  assert.deepEqual([stop(5), stop(6), stop(7), stop(4)], [false, true, true, false]);
  // a request that ran to max_tokens ("length") has no row after its stop
  const length = attributeRows("chat", [rec({ response_id: "x" })], [logged("x", 7)], [0, 1]);
  assert.equal(length.ok, false);
  // sent while paused: no rows expected; a disconnected one may get rows after the next switch
  const paused = attributeRows(
    "completions",
    [rec({})],
    [logged("cmpl-a-0", 6), logged("cmpl-p2-0", 3)],
    [0, 1],
    [rec({ response_id: "cmpl-p1" }), rec({ response_id: "cmpl-p2", status: "aborted" }), rec({ response_id: null })],
  );
  assert.deepEqual(
    [paused.ok, paused.complete, paused.paused, paused.paused_disconnected_with_rows, paused.unattributed],
    [true, 1, 1, [{ response_id: "cmpl-p2", req_id: "cmpl-p2-0", rows_per_layer: 3 }], []],
  );
  const leak = attributeRows("completions", [], [logged("cmpl-p1-0", 6)], [0, 1], [rec({ response_id: "cmpl-p1" })]);
  assert.equal(leak.ok, false);
  assert.match(
    leak.violations[0]!,
    /request cmpl-p1 \(log req_id cmpl-p1-0\) was sent while the capture was paused, yet has 6 rows in layer 0/,
  );
});

test("serve's pass plan: ABBA over repeats, the first repeat's log keeps moe_routes, Parquet names", () => {
  const plan = planServePasses(3, "/w", { vllmCapture: true, pausedCapture: false });
  assert.deepEqual(
    plan.map((p) => p.label),
    [
      "no-log 1/3",
      "log 1/3",
      "vllm-capture 1/3",
      "vllm-capture 2/3",
      "log 2/3",
      "no-log 2/3",
      "no-log 3/3",
      "log 3/3",
      "vllm-capture 3/3",
    ],
  );
  assert.deepEqual(
    plan.filter((p) => p.routesPath).map((p) => p.routesPath),
    ["/w/moe_routes.jsonl", "/w/moe_routes.repeat2.jsonl", "/w/moe_routes.repeat3.jsonl"],
  );
  assert.deepEqual(
    planServePasses(1, "/w", { vllmCapture: false, pausedCapture: false }, "parquet").map((p) => [
      p.pass,
      p.routesPath,
    ]),
    [
      ["no_log", null],
      ["log", "/w/moe_routes.parquet"],
    ],
  );
  // the paused arm has a log of its own (the capture must open one to be installed), in the format
  assert.deepEqual(
    planServePasses(2, "/w", { vllmCapture: true, pausedCapture: true }, "parquet").map((p) => [p.label, p.routesPath]),
    [
      ["no-log 1/2", null],
      ["log 1/2", "/w/moe_routes.parquet"],
      ["log-paused 1/2", "/w/moe_routes.paused1.parquet"],
      ["vllm-capture 1/2", null],
      ["vllm-capture 2/2", null],
      ["log-paused 2/2", "/w/moe_routes.paused2.parquet"],
      ["log 2/2", "/w/moe_routes.repeat2.parquet"],
      ["no-log 2/2", null],
    ],
  );
});

test("log/paused within a server: each pair's on / paused (whichever came first), the median over pairs of every log pass; incomplete pairs left out", () => {
  const sum = (tokS: number, itl: number, complete = true) =>
    ({
      complete,
      output_tokens_per_s: tokS,
      requests_per_s: tokS / 100,
      ttft_s: { p50: 0.1, p99: 0.2 },
      itl_s: { p50: itl, p99: 2 * itl },
      e2e_s: { p50: 1 },
    }) as unknown as LoadSummary;
  const block = (capture: "on" | "paused", s: LoadSummary) => ({ capture, summary: s, records: [] });
  const pass = (kind: string, blocks: ReturnType<typeof block>[]) =>
    ({
      planned: { pass: kind, repeat: 1 },
      levels: [{ level: 8, summary: sum(100, 0.01), records: [], blocks }],
    }) as unknown as ServedPass;
  const passes = [
    pass("no_log", []),
    pass("log", [
      block("on", sum(90, 0.011)), // pair 1: tok/s 0.9, ITL 1.1
      block("paused", sum(100, 0.01)),
      block("paused", sum(100, 0.01)), // pair 2 (paused first): 1.05, 0.95
      block("on", sum(105, 0.0095)),
      block("on", sum(50, 0.02, false)), // pair 3: incomplete, left out
      block("paused", sum(100, 0.01)),
    ]),
    pass("log", [block("paused", sum(100, 0.01)), block("on", sum(101, 0.0101))]), // pair 4: 1.01, 1.01
  ];
  const c = compareLevels(passes, [8])[0]!.log_over_paused_same_server!;
  assert.equal(c.pairs, 3);
  assert.deepEqual(
    c.per_pair.map((r) => [r.output_tokens_per_s, r.itl_p50_s].map((x) => Number(x!.toFixed(4)))),
    [
      [0.9, 1.1],
      [1.05, 0.95],
      [1.01, 1.01],
    ],
  );
  assert.equal(Number(c.ratio.output_tokens_per_s!.toFixed(4)), 1.01);
  assert.equal(Number(c.ratio.itl_p50_s!.toFixed(4)), 1.01);
  // without blocks there is no such comparison
  assert.equal(compareLevels([pass("no_log", []), pass("log", [])], [8])[0]!.log_over_paused_same_server, undefined);
});
