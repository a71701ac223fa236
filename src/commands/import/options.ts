// `moe-prof import`: its options and help; the work is in index.ts, loaded when it runs.
import type { Command } from "commander";

export const IMPORT_FORMATS = ["sglang", "vllm-routed-experts"] as const;

export function defineImport(program: Command): Command {
  return program
    .command("import")
    .description(
      "Convert another engine's routing capture (SGLang's per-token expert-distribution dump, vLLM's routed_experts) into a routes log.",
    )
    .argument("<input...>", "sglang: one .pt dump; vllm-routed-experts: one .npz (an array per request) or .npy files")
    .requiredOption("--from <format>", `what the input is: ${IMPORT_FORMATS.join(" or ")}`)
    .requiredOption("-o, --out <file.jsonl>", "the routes log to write (replaced atomically)")
    .option("--model-id <id>", "the model, for the meta line (the captures do not say)", "unknown")
    .option("--num-experts <E>", "the model's expert count (default: SGLang's map says; vLLM: left out)")
    .option("--layers <list>", "vllm-routed-experts: the MoE layers, e.g. 1-23 (default: the layers not all zeros)")
    .option(
      "--python <path>",
      "Python with numpy (and torch for SGLang's .pt) (default ./.venv/bin/python, else python3)",
    )
    .addHelpText(
      "after",
      `
Formats:
  sglang               a dump of SGLang's expert-distribution recorder in per_token mode
                       (--expert-distribution-recorder-mode per_token; POST /start_expert_distribution_record,
                       requests, /stop_..., /dump_expert_distribution_record): a .pt per rank. Its records
                       carry no request ids: each forward pass's sequences become req_id "<pass>:<sequence>",
                       token_idx their positions, step the pass. Physical ids are mapped to logical experts
                       with the dump's last_physical_to_logical_map. stat and per_pass dumps (counts only)
                       are refused. Needs torch in --python.
  vllm-routed-experts  vLLM 0.20.2's CompletionOutput.routed_experts ([positions, layers, top_k] per
                       request, LLM(enable_return_routed_experts=True)), saved with numpy:
                       np.savez("routed.npz", **{req_id: out.outputs[0].routed_experts, ...}) or one
                       <req_id>.npy per request. Rows: position p = token_idx p.
Neither engine records routing weights: the log's meta line says "weights_logged": false and
"imported_from"; the rows carry no topk_weights. Expert counts, co-activation, cache, place's
loads, the eplb export and compare's top-k overlap work (r3 needs whole requests with phase); a row's top-1 (top-1 repetition,
layer transitions, place's top1_gpu_share, compare's top-1 agreement, hist --request) needs
weights and is left out with a note. The written log is validated before the command succeeds.
Exit codes: 0 ok, 1 input that cannot be imported, 2 usage error or no usable Python.

Examples:
  moe-prof import --from vllm-routed-experts routed.npz -o routed/moe_routes.jsonl --model-id Qwen/Qwen1.5-MoE-A2.7B
  moe-prof import --from sglang expert_distribution_recorder_1733380000.0_0.pt -o sglang/moe_routes.jsonl`,
    );
}
