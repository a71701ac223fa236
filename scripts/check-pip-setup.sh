#!/usr/bin/env bash
# `moe-prof setup`'s pip path, for real: what a user without uv gets (README "Set up and run").
# The lock goes into a fresh venv made by `python3.12 -m venv`, through pip alone
# (--require-hashes --no-deps, then `pip check`), and the patch is applied to it. No uv and no
# cache can take part: PATH holds node and the system directories only (the script stops if uv is
# found there), pip reads no config file and keeps no cache (every wheel comes from the index),
# uv's and pip's own settings are unset. Then torch, transformers and vLLM must import.
# Usage: scripts/check-pip-setup.sh [PYTHON3.12] [-- more `moe-prof setup` options]
#   (no PYTHON3.12: `moe-prof setup` finds one itself, as for a user: PATH, pyenv, uv's, asdf, conda)
# Cost: ~4.3 GB downloaded, ~11 GB on disk until it exits (removed then).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
base_opt=()
if [[ $# -gt 0 && "$1" != "--" ]]; then
  # pyenv's and asdf's shims need their tool on PATH: name the interpreter itself
  base_opt=(--base-python "$("$1" -c 'import sys; print(sys.executable)')")
  shift
fi
[[ "${1:-}" == "--" ]] && shift
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/bin"
ln -s "$(command -v node)" "$work/bin/node"
clean_path="$work/bin:/usr/bin:/bin"
if PATH="$clean_path" command -v uv >/dev/null; then
  echo "check-pip-setup: uv is in $(PATH="$clean_path" command -v uv): cannot check the path without it" >&2
  exit 1
fi
start=$SECONDS
env -u VIRTUAL_ENV -u PYTHONPATH -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL \
  -u UV_CACHE_DIR -u UV_PYTHON -u UV_INDEX_URL \
  PATH="$clean_path" PIP_CONFIG_FILE=/dev/null PIP_NO_CACHE_DIR=1 \
  node "$root/dist/src/cli.js" setup --venv "$work/venv" "${base_opt[@]}" "$@" 2>&1 | tee "$work/setup.log"
grep -q -- "-m pip install --require-hashes --no-deps -r " "$work/setup.log"
grep -q -- "-m pip check" "$work/setup.log"
if grep -q "(uv)" "$work/setup.log"; then
  echo "check-pip-setup: setup used uv" >&2
  exit 1
fi
"$work/venv/bin/python" -c 'import torch, transformers, vllm; print("imports:", "torch", torch.__version__, "transformers", transformers.__version__, "vllm", vllm.__version__)'
echo "check-pip-setup: the pip path installed the lock and applied the patch in $((SECONDS - start)) s; $(du -sh "$work/venv" | cut -f1) venv"
