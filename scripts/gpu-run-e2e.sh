#!/usr/bin/env bash
# Hardware evidence for `moe-prof run` without vLLM: the whole pipeline through `--engine hf` on
# the full-size Qwen1.5-MoE-A2.7B architecture with random weights (no download), on one GPU.
#   scripts/gpu-run-e2e.sh RESULTS_DIR [smoke|deterministic|repeats|full]   (full = both of the latter)
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

run_case() { # name, then run options
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
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac
