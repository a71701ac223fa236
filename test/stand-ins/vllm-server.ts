// STAND-IN for `python -m vllm.entrypoints.openai.api_server` with moe-prof's patch, for the tests
// of `moe-prof serve` (run through test/stand-ins/serve-python). Not vLLM: it serves /health and
// streaming /v1/completions and /v1/chat/completions with fake tokens, names requests the way
// vLLM 0.20.2 does (response id `cmpl-<16 hex>`; engine id `cmpl-<16 hex>-0-<8 hex>`; chat
// `chatcmpl-<16 hex>`, engine id + `-<8 hex>`), and, with VLLM_LOG_MOE set, writes a routes log
// the way the capture does: `<path>.partial`, one row per computed position per layer under the
// engine id with its last `-` part stripped, renamed to <path> when it is stopped by SIGINT or
// SIGTERM. A prompt of W words is W tokens; with ignore_eos it generates max_tokens, otherwise it
// stops early (finish "stop") and, like vLLM's async scheduling, computes one more row.
// STANDIN_FAULT: never-healthy (listens, never answers /health; starts a child like vLLM's engine
// core, its pid to STANDIN_CHILD_PID_FILE), die-after:N (exits abruptly at the N-th request: the
// log stays .partial), ignore-sigint (only SIGTERM ends it), hang-on-stop (only SIGKILL ends it:
// the log stays .partial), exit-at-start, rpc-ignored (/collective_rpc answers but the capture
// does not switch), log-while-paused (rows while paused). With VLLM_SERVER_DEV_MODE=1 it serves
// POST /collective_rpc for the patch's moe_prof_control pause/resume.
// Picked up by `node --test` with no arguments, it does nothing.
import http from "node:http";
import { spawn } from "node:child_process";
import { createWriteStream, readFileSync, renameSync, rmSync, writeFileSync, type WriteStream } from "node:fs";
import { randomBytes } from "node:crypto";
import { ParquetRouteWriter, type ParquetRouteRow } from "../../src/artifacts/parquet-writer.js";

const args = process.argv.slice(2);
if (args[0] === "-m" && args[1] === "vllm.entrypoints.openai.api_server") serve();

function arg(name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** The capture's user_request_id (python/moe_prof/capture/segments.py): drop the last `-` part. */
const userRequestId = (internal: string) =>
  internal.includes("-") ? internal.slice(0, internal.lastIndexOf("-")) : internal;

function serve(): void {
  const fault = process.env.STANDIN_FAULT ?? "";
  if (fault === "exit-at-start") {
    process.stderr.write("RuntimeError: stand-in told to fail at start\n");
    process.exit(1);
  }
  const port = Number(arg("--port"));
  const model = arg("--model") ?? "stand-in";
  // vLLM's own capture (--enable-return-routed-experts) made 3x slower here: the test can tell its
  // pass's numbers from the others'
  const slow = args.includes("--enable-return-routed-experts") ? 3 : 1;
  const [firstMs, gapMs] = [Number(process.env.STANDIN_FIRST_MS ?? 20), slow * Number(process.env.STANDIN_GAP_MS ?? 3)];
  const logPath = process.env.VLLM_LOG_MOE || null;
  const LAYERS = [0, 1];
  let log: WriteStream | null = null;
  if (logPath) {
    log = createWriteStream(`${logPath}.partial`);
    log.write(
      JSON.stringify({
        type: "meta",
        model_id: model,
        vllm_version: "stand-in",
        torch_version: "none",
        device: "cpu",
        seed: 0,
        layers_logged: LAYERS,
        top_k: 2,
        num_experts: 8,
        prefix_caching: false,
      }) + "\n",
    );
  }
  // VLLM_LOG_MOE_PAUSED as the capture reads it (capture/env.py): the log opens, no rows are kept
  // (STANDIN_FAULT=log-while-paused: rows anyway, a capture that did not stay paused)
  let paused = !["", "0"].includes((process.env.VLLM_LOG_MOE_PAUSED ?? "").trim());
  const rows = (reqId: string, from: number, to: number) => {
    if (!log || (paused && fault !== "log-while-paused")) return;
    let out = "";
    for (let t = from; t < to; t++)
      for (const layer of LAYERS)
        out +=
          JSON.stringify({
            type: "route",
            req_id: reqId,
            token_idx: t,
            layer,
            topk_ids: [(t + layer) % 8, (t + layer + 1) % 8],
            topk_weights: [0.6, 0.4],
          }) + "\n";
    log.write(out);
  };
  let requests = 0;
  const open = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    if (req.url === "/health") {
      if (fault === "never-healthy") return; // accepts, never answers
      return void res.writeHead(200).end();
    }
    // vLLM's /collective_rpc (with VLLM_SERVER_DEV_MODE=1) calling the patch's moe_prof_control
    // (STANDIN_FAULT=rpc-ignored: answers, but the capture does not switch)
    if (req.url === "/collective_rpc" && req.method === "POST" && process.env.VLLM_SERVER_DEV_MODE === "1") {
      let raw = "";
      req.on("data", (d: Buffer) => (raw += d.toString()));
      req.on("end", () => {
        const { method, args } = JSON.parse(raw) as { method: string; args?: string[] };
        if (method !== "moe_prof_control") return void res.writeHead(500).end(`no method ${method}`);
        if (fault !== "rpc-ignored" && args?.[0] === "pause") paused = true;
        if (fault !== "rpc-ignored" && args?.[0] === "resume") paused = false;
        const answer = log ? { active: true, paused } : { active: false, enabled: false, disabled_reason: null };
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ results: [answer] }));
      });
      return;
    }
    const chat = req.url === "/v1/chat/completions";
    if (req.method !== "POST" || !(chat || req.url === "/v1/completions")) return void res.writeHead(404).end();
    let raw = "";
    req.on("data", (d: Buffer) => (raw += d.toString()));
    req.on("end", () => {
      requests++;
      if (fault.startsWith("die-after:") && requests >= Number(fault.split(":")[1])) process.exit(3);
      const body = JSON.parse(raw) as {
        prompt?: string;
        messages?: Array<{ content: string }>;
        max_tokens: number;
        ignore_eos?: boolean;
      };
      const hex = randomBytes(8).toString("hex");
      const responseId = `${chat ? "chatcmpl" : "cmpl"}-${hex}`;
      const engineId = `${chat ? responseId : `${responseId}-0`}-${randomBytes(4).toString("hex")}`;
      const logged = userRequestId(engineId);
      const text = chat ? body.messages!.map((m) => m.content).join(" ") : body.prompt!;
      const P = text.split(/\s+/).filter(Boolean).length;
      const G = body.ignore_eos ? body.max_tokens : Math.min(body.max_tokens, 2 + (P % 3));
      const stopsEarly = G < body.max_tokens;
      res.writeHead(200, { "content-type": "text/event-stream" });
      open.add(res);
      const send = (x: unknown) => res.write(`data: ${typeof x === "string" ? x : JSON.stringify(x)}\n\n`);
      if (chat) send({ id: responseId, choices: [{ index: 0, delta: { role: "assistant", content: "" } }] });
      let g = 0;
      let timer: NodeJS.Timeout;
      res.on("close", () => {
        clearTimeout(timer);
        open.delete(res);
      });
      const tick = () => {
        if (res.destroyed) return; // client gone: vLLM aborts the request, nothing more computed
        // generating token g computed position P-1+g-1 .. (prefill: 0..P-1 for the first token)
        if (g === 0) rows(logged, 0, P);
        else rows(logged, P + g - 1, P + g);
        g++;
        const finish = g === G ? (stopsEarly ? "stop" : "length") : null;
        const piece = ` w${g}`;
        send({
          id: responseId,
          choices: [
            chat
              ? { index: 0, delta: { content: piece }, finish_reason: finish }
              : { index: 0, text: piece, finish_reason: finish },
          ],
        });
        if (g < G) return void (timer = setTimeout(tick, gapMs));
        if (stopsEarly) rows(logged, P + G - 1, P + G); // async scheduling's row after the stop
        send({ id: responseId, choices: [], usage: { prompt_tokens: P, completion_tokens: G, total_tokens: P + G } });
        send("[DONE]");
        res.end();
      };
      timer = setTimeout(tick, firstMs);
    });
  });
  server.listen(port, "127.0.0.1");
  if (fault === "never-healthy") {
    const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    if (process.env.STANDIN_CHILD_PID_FILE) writeFileSync(process.env.STANDIN_CHILD_PID_FILE, String(child.pid));
  }
  const shutdown = (sig: string) => {
    if (sig === "SIGINT" && fault === "ignore-sigint") return;
    if (fault === "hang-on-stop") return; // a stuck engine shutdown: only SIGKILL ends it
    process.stderr.write(`stand-in: ${sig}, shutting down (${open.size} streams open)\n`);
    server.close();
    for (const r of open) r.destroy();
    if (!log) process.exit(0);
    log.end(() => {
      if (process.env.VLLM_LOG_MOE_FORMAT === "parquet") closeAsParquet(`${logPath}.partial`, logPath!);
      else renameSync(`${logPath}.partial`, logPath!);
      process.exit(0);
    });
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.stderr.write(`stand-in: serving ${model} on 127.0.0.1:${port}${logPath ? `, routes to ${logPath}` : ""}\n`);
}

/** VLLM_LOG_MOE_FORMAT=parquet: the rows written as JSONL so far become the Parquet file the
 * capture would leave (meta in its footer), through the project's own Parquet writer. */
function closeAsParquet(jsonlPartial: string, out: string): void {
  const [metaLine, ...rows] = readFileSync(jsonlPartial, "utf8").split("\n").filter(Boolean);
  const meta = JSON.parse(metaLine!) as { top_k: number };
  const w = new ParquetRouteWriter(out, meta.top_k, metaLine!);
  for (const line of rows) w.add(JSON.parse(line) as ParquetRouteRow);
  w.finish();
  rmSync(jsonlPartial);
}
