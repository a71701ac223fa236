// `moe-prof serve`: its options and help. The work (server passes, load, checks, artifacts) is in
// index.ts, loaded when the command runs.
import { Command, Option } from "commander";
import { DEFAULT_MODEL } from "../../config/defaults.js";

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function defineServe(program: Command): Command {
  return program
    .command("serve")
    .description(
      "Serve a model with vLLM's OpenAI server, capture off and on, drive it with a streaming load, and measure TTFT/ITL/throughput and the routes.",
    )
    .option("--model <id>", `model to serve (default ${DEFAULT_MODEL})`)
    .option("--python <path>", "Python with patched vLLM (default ./.venv/bin/python, else python3)")
    .addOption(
      new Option("--endpoint <name>", "OpenAI endpoint: /v1/completions or /v1/chat/completions")
        .choices(["completions", "chat"])
        .default("completions"),
    )
    .option("--concurrency <list>", "closed loop: requests kept in flight, a sweep like 1,8,32 (the default)")
    .option("--request-rate <list>", "open loop: Poisson arrivals at these requests/s, a sweep like 0.5,2,8")
    .option("--max-concurrency <n>", "with --request-rate: at most this many requests in flight")
    .option(
      "--num-requests <list>",
      "requests per load level: one count, or one per level in the order given (32,256,1024)",
      "64",
    )
    .option("--time-limit <s>", "per load level: after this, requests in flight are cut and the rest not sent", "600")
    .option("--max-tokens <n>", "tokens to generate per request", "128")
    .option("--temperature <t>", "sampling temperature", "0")
    .option("--no-ignore-eos", "let requests stop at end-of-sequence (default: exactly --max-tokens each)")
    .option("--prompts <file>", "prompts file: .jsonl (strings or {prompt|question|text}) or text, one per line")
    .option("--num-prompts <n>", "prompts used (from the start of the set), cycled over the requests", "64")
    .option("--abort-fraction <f>", "share of requests that disconnect mid-stream (client aborts), chosen by seed", "0")
    .option("--abort-after <n>", "those disconnect after this many streamed token chunks", "4")
    .option("--seed <n>", "seed of the server, the arrivals and the choice of aborted requests", "1234")
    .option(
      "--repeats <n>",
      "no-log/log server pairs, every second one in reverse order (ABBA); the picture shows medians",
      "1",
    )
    .option("--warmup-requests <n>", "untimed requests after each server start (logged in log passes)", "1")
    .option("--health-timeout <s>", "how long a server may take to answer /health", "900")
    .option(
      "--stop-timeout <s>",
      "after SIGINT, how long the server's process group (the capture's log writer included) may take to exit before SIGTERM",
      "60",
    )
    .option(
      "--server-arg <arg>",
      "one more argument for the server, repeatable: --server-arg=--max-num-seqs --server-arg=64",
      collect,
    )
    .option(
      "--vllm-capture",
      "a third server per repeat with vLLM's own routed-experts capture (--enable-return-routed-experts) and moe-prof's off: its cost side by side",
    )
    .option(
      "--paused-capture",
      "one more server per repeat with the capture installed but paused (VLLM_LOG_MOE_PAUSED=1): its in-graph copies run, no rows leave the GPU; splits the capture's cost into the GPU's part and the host's",
    )
    .option(
      "--toggle-capture <blocks>",
      "every pass sends each level in this many equal blocks (a multiple of 4); the log pass has its capture on and paused in turn (on, paused, paused, on, ...), switched through vLLM's /collective_rpc between blocks once the block before has ended: the capture's host cost within one server, without server-to-server spread",
    )
    .addOption(
      new Option(
        "--log-format <fmt>",
        "routes log of the log passes: jsonl (moe_routes.jsonl) or parquet (moe_routes.parquet; the capture's writer does ~7x less work per row, APPENDIX)",
      )
        .choices(["jsonl", "parquet"])
        .default("jsonl"),
    )
    .option("--out <dir>", "result directory (default ./moe-prof-out/serve-<timestamp>)")
    .addHelpText(
      "after",
      `
Each pass starts a fresh server: <python> -m vllm.entrypoints.openai.api_server --model M
--host 127.0.0.1 --port <free> --seed S --no-enable-prefix-caching [--server-arg ...], with
VLLM_LOG_MOE=<out>/moe_routes.jsonl in log passes only (--log-format parquet: moe_routes.parquet
and VLLM_LOG_MOE_FORMAT=parquet); waits for /health; sends the warm-up,
then every load level in turn (streaming, stream_options.include_usage); stops the server with
SIGINT (then SIGTERM, SIGKILL to its process group), which closes the routes log. The load only
ever talks to 127.0.0.1. The run works in <out>.partial/, renamed to <out>/ when complete:
  serving.json         per pass and level: TTFT, ITL, TPOT, e2e (p50/p90/p99), throughput,
                       counts, every request's response id and status; log vs no-log per level
  serving_latency.png  TTFT and ITL percentiles vs load, log and no-log
  moe_routes.jsonl     (or .parquet) the first log pass's routes; expert_hist.png, expert_heatmap.png,
                       layer_transitions.png, summary.json as \`run\` writes them
  logs/                each server's output
Checks: every completed request's rows are found under its response id (completions:
"<id>-0", chat: "<id>") with P + G - 1 rows per layer; disconnected requests are listed as
aborted, never as complete.
Exit codes: 0 ok; 1 a check failed, a level did not complete, or the server died; 2 usage or
environment (server would not start, /health timeout); 130 interrupted.

Examples:
  moe-prof serve --concurrency 1,8,32 --num-requests 64 --max-tokens 128
  moe-prof serve --request-rate 2,8 --max-concurrency 64 --endpoint chat --repeats 3
  moe-prof serve --abort-fraction 0.1 --server-arg=--max-num-seqs --server-arg=64
  moe-prof serve --concurrency 64 --num-requests 2048 --toggle-capture 8`,
    );
}
