#!/usr/bin/env bash
# A release's vLLM patch against that release's real wheel files: no drift from python/, applies
# with `patch -p1` and no fuzz, every file it writes compiles, reverse restores byte-identical files.
# Usage: scripts/check-vllm-patch.sh DIR [VERSION]   (DIR from scripts/vllm-wheel-files.py --vllm VERSION;
#        VERSION defaults to 0.15.1)
set -euo pipefail
src="$1"
version="${2:-0.15.1}"
root="$(cd "$(dirname "$0")/.." && pwd)"
patchfile="$root/patches/vllm-v$version-moe-logger.patch"
python3 "$root/scripts/gen-vllm-patch.py" --vllm "$version" --vllm-src "$src" --check
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$src/vllm" "$work/vllm"
(cd "$work" && patch -p1 --fuzz=0 --forward --quiet < "$patchfile")
mapfile -t written < <(sed -n 's#^+++ b/\(.*\.py\)$#\1#p' "$patchfile")
(cd "$work" && PYTHONPYCACHEPREFIX="$work/pycache" python3 -m py_compile "${written[@]}")
(cd "$work" && patch -p1 -R -E --fuzz=0 --quiet < "$patchfile")
find "$work/vllm/moe_prof_capture" -depth -type d -empty -delete 2>/dev/null || true
diff -r "$src/vllm" "$work/vllm"
echo "vllm $version patch: no drift, applies without fuzz, ${#written[@]} files compile, reverses to identical files"
