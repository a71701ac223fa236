// `moe-prof run`: its options and help. The work (preflight, passes, checks, artifacts) is in
// index.ts, loaded when the command runs.
import { Command, Option } from "commander";
import { DEFAULT_MODEL } from "../../config/defaults.js";

export function defineRun(program: Command): Command {
  return program
    .command("run")
    .description("Profile MoE routing: a no-log and a log pass over the same prompts, then validate, check and plot.")
    .option("--model <id>", `model to run (default ${DEFAULT_MODEL})`)
    .addOption(
      new Option("--engine <name>", "vllm (patched 0.15.1 or 0.20.2, whichever the venv has) or hf (transformers)")
        .choices(["vllm", "hf"])
        .default("vllm"),
    )
    .option("--num-prompts <n>", "how many prompts (from the start of the set)", "25")
    .option("--prompts <file>", "prompts file: .jsonl (strings or {prompt|question|text}) or text, one per line")
    .option("--dataset-url <url>", "download a GSM8K-style JSONL instead of the bundled split")
    .option("--max-tokens <n>", "tokens to generate per prompt", "256")
    .option("--temperature <t>", "sampling temperature (0 = greedy)", "0")
    .option("--seed <n>", "seed for the engine and sampling", "1234")
    .option("--out <dir>", "result directory (default ./moe-prof-out/<timestamp>)")
    .option("--python <path>", "Python with vLLM / transformers (default ./.venv/bin/python, else python3)")
    .option("--repeats <n>", "no-log/log pass pairs, alternating; timing reports medians", "1")
    .option("--layers <list>", "log only these MoE layers, e.g. 0,5-7")
    .option("--tensor-parallel-size <n>", "vLLM only: tensor parallel size", "1")
    .option("--gpu-memory-utilization <f>", "vLLM only: GPU memory fraction", "0.9")
    .option("--max-model-len <n>", "vLLM only: max model length")
    .option(
      "--enforce-eager",
      "vLLM only: turn CUDA graphs off (in both passes; transformers runs without them anyway)",
      false,
    )
    .option("--deterministic", "deterministic kernels; the two passes must then generate identical tokens", false)
    .option("--no-chat-template", "send prompts as plain text instead of through the model's chat template")
    .option("--warmup-prompts <n>", "prompts in the untimed, unlogged warm-up generation", "2")
    .option("--random-weights", "hf engine: build the model from --config with random weights (hardware tests)", false)
    .option("--config <dir>", "hf engine: directory with the model's config.json")
    .option("--tokenizer <dir>", "hf engine: tokenizer directory (default: --config, else --model)")
    .addOption(
      new Option("--device <kind>", "hf engine: where the model runs (cpu: float32, no GPU needed)")
        .choices(["cuda", "cpu"])
        .default("cuda"),
    )
    .addOption(
      new Option(
        "--log-format <fmt>",
        "routes log of the log pass: jsonl (moe_routes.jsonl), parquet (moe_routes.parquet) or both",
      )
        .choices(["jsonl", "parquet", "both"])
        .default("jsonl"),
    )
    .addOption(
      new Option(
        "--load-format <fmt>",
        "vLLM only: auto (the checkpoint's weights) or dummy (vLLM's random weights: --model may be a directory with only config.json and a tokenizer)",
      )
        .choices(["auto", "dummy"])
        .default("auto"),
    )
    .option("--engine-args <json>", `vLLM only: more vllm.LLM keyword arguments, e.g. '{"max_num_seqs": 64}'`)
    .addHelpText(
      "after",
      `
Each pass is a fresh Python worker with the same engine settings (CUDA graphs on unless
--enforce-eager, prefix caching off). A warm-up generation precedes the timed one and is never
logged. The run works in <out>.partial/ and is renamed to <out>/ when complete:
  moe_routes.jsonl   every routing decision of the log pass (schema: README "Log schema")
  expert_hist.png, expert_heatmap.png, layer_transitions.png, summary.json (+ run checks),
  timing.json, passes.json
  logs/              each worker's stderr and protocol transcript; jobs/: each worker's job
Exit codes: 0 ok; 1 a pass failed or a check failed (conservation, --deterministic agreement);
2 usage or environment (no GPU, wrong vLLM, patch not applied, not enough GPU memory); 130 interrupted.

Examples:
  moe-prof run
  moe-prof run --num-prompts 4 --max-tokens 32 --out smoke
  moe-prof run --engine hf --random-weights --config fixtures/models/qwen1.5-moe-a2.7b --deterministic
  moe-prof run --engine hf --device cpu --random-weights --config fixtures/models/tiny-qwen2-moe \\
      --tokenizer fixtures/models/qwen1.5-moe-a2.7b --num-prompts 4 --max-tokens 12`,
    );
}
