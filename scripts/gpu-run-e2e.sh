#!/usr/bin/env bash
# Hardware evidence for `moe-prof run` without vLLM: the whole pipeline through `--engine hf` on
# the full-size Qwen1.5-MoE-A2.7B architecture with random weights (no download), on one GPU.
#   scripts/gpu-run-e2e.sh RESULTS_DIR [smoke|deterministic|repeats|full|families]
#   (full = deterministic + repeats; families = tiny random Mixtral and OLMoE configs, to show
#   --engine hf finds their routers too)
# Needs node on PATH (scripts/pack-node-runtime.sh makes a portable one), python3 with torch and
# transformers. Leaves RESULTS_DIR/<name>.tar.gz per run (everything but the big routes log,
# of which the first 2000 lines are kept) and prints each run's summary.
set -uo pipefail
results=${1:?usage: gpu-run-e2e.sh RESULTS_DIR [smoke|full]}
mode=${2:-full}
root=$(cd "$(dirname "$0")/.." && pwd)
cfg="$root/fixtures/models/qwen1.5-moe-a2.7b"
work=$(mktemp -d)
mkdir -p "$results"
cli() { node "$root/dist/src/cli.js" "$@"; }

run_case() { # name, then run options (a later --config overrides the default one)
  local name=$1; shift
  echo "=== $name: moe-prof run $*"
  cli run --engine hf --random-weights --config "$cfg" --python python3 --out "$work/$name" "$@"
  local rc=$?
  echo "=== $name: exit $rc"
  local d="$work/$name"; [ -d "$d" ] || d="$work/$name.partial"
  if [ -f "$d/moe_routes.jsonl" ]; then
    head -n 2000 "$d/moe_routes.jsonl" > "$d/moe_routes.head.jsonl"
    wc -l < "$d/moe_routes.jsonl" > "$d/moe_routes.lines"
    cli validate "$d/moe_routes.jsonl"
    gzip -c "$d/moe_routes.jsonl" > "$results/$name.moe_routes.jsonl.gz"
  fi
  tar -C "$(dirname "$d")" --exclude=moe_routes.jsonl -czf "$results/$name.tar.gz" "$(basename "$d")"
  return $rc
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
node --version
PYTHONPATH="$root/python" python3 -m moe_prof.preflight | tee "$results/preflight.json"
case "$mode" in
  smoke) run_case smoke --num-prompts 4 --max-tokens 16 --deterministic ;;
  deterministic) run_case full-deterministic --deterministic ;;
  repeats) run_case full-repeats3 --repeats 3 ;;
  full) run_case full-deterministic --deterministic; run_case full-repeats3 --repeats 3 ;;
  families)
    mkdir -p "$work/mixtral" "$work/olmoe"
    echo '{"architectures":["MixtralForCausalLM"],"model_type":"mixtral","hidden_size":256,"intermediate_size":512,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"num_local_experts":8,"num_experts_per_tok":2,"vocab_size":16384,"max_position_embeddings":4096,"rms_norm_eps":1e-5,"rope_theta":1000000.0,"eos_token_id":2,"tie_word_embeddings":false}' > "$work/mixtral/config.json"
    echo '{"architectures":["OlmoeForCausalLM"],"model_type":"olmoe","hidden_size":256,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":4,"num_experts":8,"num_experts_per_tok":2,"norm_topk_prob":false,"vocab_size":16384,"max_position_embeddings":4096,"rms_norm_eps":1e-5,"eos_token_id":2,"tie_word_embeddings":false}' > "$work/olmoe/config.json"
    for fam in mixtral olmoe; do
      run_case "tiny-$fam" --config "$work/$fam" --tokenizer "$cfg" --num-prompts 3 --max-tokens 8 --deterministic
    done ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac
