#!/usr/bin/env bash
# The vLLM patch against the real vllm==0.15.1 wheel's files: no drift from python/, applies with
# `patch -p1` and no fuzz, patched files compile, reverse restores byte-identical files.
# Usage: scripts/check-vllm-patch.sh DIR   (DIR from scripts/vllm-wheel-files.py)
set -euo pipefail
src="$1"
root="$(cd "$(dirname "$0")/.." && pwd)"
patchfile="$root/patches/vllm-v0.15.1-moe-logger.patch"
python3 "$root/scripts/gen-vllm-patch.py" --vllm-src "$src" --check
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$src/vllm" "$work/vllm"
(cd "$work" && patch -p1 --fuzz=0 --forward --quiet < "$patchfile")
PYTHONPYCACHEPREFIX="$work/pycache" python3 -m py_compile \
  "$work"/vllm/moe_prof_capture/*.py \
  "$work/vllm/model_executor/layers/fused_moe/layer.py" \
  "$work/vllm/v1/worker/gpu_model_runner.py" \
  "$work/vllm/v1/worker/gpu_worker.py" \
  "$work/vllm/v1/engine/core.py"
(cd "$work" && patch -p1 -R -E --fuzz=0 --quiet < "$patchfile")
[ ! -d "$work/vllm/moe_prof_capture" ] || rmdir "$work/vllm/moe_prof_capture"
diff -r "$src/vllm" "$work/vllm"
echo "vllm patch: no drift, applies without fuzz, compiles, reverses to identical files"
