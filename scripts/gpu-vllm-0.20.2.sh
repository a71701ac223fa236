#!/usr/bin/env bash
# `moe-prof run` and scripts/gpu-vllm-check.py on a GPU host with no network and no vLLM, from the
# offline bundle (scripts/pack-vllm-bundle.py: vLLM 0.20.2 + the wheels the host lacks) and the
# packed Node runtime (scripts/pack-node-runtime.sh). The host must have torch 2.11.0 (CUDA 13),
# transformers, gcc (Triton builds its launchers) and xz. Steps, in one warm machine:
#   gpu-vllm-0.20.2.sh receive DIR...   copy bundle parts / the node runtime from DIR to /tmp/moe-prof-dl
#   gpu-vllm-0.20.2.sh install          node runtime -> /tmp/moe-prof-node, bundle -> /tmp/moe-prof-site,
#                                       `moe-prof patch apply` on that vLLM
#   gpu-vllm-0.20.2.sh run NAME [OPTIONS...]   `moe-prof run` (--python python3), results -> RESULTS/NAME
#   gpu-vllm-0.20.2.sh serve NAME SECONDS [OPTIONS...]   `moe-prof serve` on the GPTQ-Int4 config
#                                       (CHECK_MODEL=bf16: bf16), dummy weights; SIGINT after SECONDS
#                                       (the serve keeps what it measured in NAME.partial); results
#                                       without the routes log -> RESULTS/serve-NAME.tar.gz
#   gpu-vllm-0.20.2.sh check PART...    scripts/gpu-vllm-check.py on the GPTQ-Int4 config, dummy weights
#                                       (CHECK_MODEL=bf16: the bf16 config; `deterministic` needs it:
#                                       0.20.2's batch-invariant mode has no GPTQ MoE kernel)
# RESULTS is $OUT where set (the device tool), else ./gpu-results.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dl=/tmp/moe-prof-dl
node_dir=/tmp/moe-prof-node
site=/tmp/moe-prof-site
results=${OUT:-$root/gpu-results}
gptq="$root/fixtures/models/qwen1.5-moe-a2.7b-gptq-int4"
bf16="$root/fixtures/models/qwen1.5-moe-a2.7b"
export PYTHONPATH="$site" HF_HUB_OFFLINE=1 VLLM_NO_USAGE_STATS=1 PYTHONUNBUFFERED=1
# torch.compile's cache in /tmp, which the device machine keeps while warm: a server started in a
# later call of the same loan can reuse the first one's compilation (H100 12-05: first server up
# in 225 s, the next in 90 s)
export VLLM_CACHE_ROOT=${VLLM_CACHE_ROOT:-/tmp/moe-prof-vllm-cache}

cli() {
  # the working tree's CLI (dist/ carried) with the packed runtime's node and modules
  [ -e "$root/node_modules" ] || ln -s "$node_dir/app/node_modules" "$root/node_modules"
  FONTCONFIG_FILE="$node_dir/fonts/fonts.conf" "$node_dir/bin/node" "$root/dist/src/cli.js" "$@"
}

step=${1:?usage: gpu-vllm-0.20.2.sh receive|install|run|serve|check ...}
shift
case "$step" in
  receive)
    mkdir -p "$dl"
    for d in "$@"; do cp -r "$d"/. "$dl/"; done
    ls -la "$dl" ;;
  install)
    t0=$(date +%s)
    bash "$dl/unpack.sh" "$node_dir"
    mkdir -p "$site"
    bash "$dl/install.sh" "$site"
    python3 -c "import torch, transformers, vllm; print('torch', torch.__version__, 'transformers', transformers.__version__, 'vllm', vllm.__version__)"
    cli patch apply --python python3
    cli patch check --python python3
    echo "install: $(($(date +%s) - t0)) s" ;;
  run)
    name=${1:?run NAME [OPTIONS]}
    shift
    mkdir -p "$results"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    cli run --python python3 --out "/tmp/moe-prof-runs/$name" "$@"
    rc=$?
    echo "=== $name: exit $rc"
    d=/tmp/moe-prof-runs/$name
    [ -d "$d" ] || d=$d.partial
    [ -f "$d/moe_routes.jsonl" ] && cli validate "$d/moe_routes.jsonl"
    tar -C "$(dirname "$d")" --exclude='moe_routes.jsonl' --exclude='moe_routes.parquet' -czf "$results/$name.tar.gz" "$(basename "$d")"
    exit $rc ;;
  serve)
    name=${1:?serve NAME SECONDS [OPTIONS]}
    limit=${2:?serve NAME SECONDS [OPTIONS]}
    shift 2
    mkdir -p "$results" /tmp/moe-prof-serve
    model=$gptq
    [ "${CHECK_MODEL:-gptq}" = bf16 ] && model=$bf16
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    [ -e "$root/node_modules" ] || ln -s "$node_dir/app/node_modules" "$root/node_modules"
    # SIGINT, not SIGTERM: serve stops its servers cleanly and keeps what it measured
    timeout -s INT "$limit" bash -c 'FONTCONFIG_FILE="$1/fonts/fonts.conf" exec "$1/bin/node" "${@:2}"' _ "$node_dir" \
      "$root/dist/src/cli.js" serve --python python3 --model "$model" --server-arg=--load-format --server-arg=dummy \
      --out "/tmp/moe-prof-serve/$name" "$@"
    rc=$?
    echo "=== serve $name: exit $rc"
    d=/tmp/moe-prof-serve/$name
    [ -d "$d" ] || d=$d.partial
    [ -d "$d" ] && tar -C "$(dirname "$d")" --exclude='moe_routes*.jsonl' --exclude='moe_routes*.parquet' --exclude='moe_routes*.partial' \
      -czf "$results/serve-$name.tar.gz" "$(basename "$d")"
    exit $rc ;;
  check)
    mkdir -p "$results"
    model=$gptq
    [ "${CHECK_MODEL:-gptq}" = bf16 ] && model=$bf16
    python3 "$root/scripts/gpu-vllm-check.py" --out /tmp/moe-prof-check --model "$model" --load-format dummy "$@"
    rc=$?
    (cd /tmp/moe-prof-check && tar -czf "$results/check-$(echo "$@" | tr ' ' '-').tar.gz" ./*.json ./*.log)
    exit $rc ;;
  *) echo "unknown step $step" >&2; exit 2 ;;
esac
