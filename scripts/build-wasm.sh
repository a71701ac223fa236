#!/usr/bin/env bash
# Builds src/routes/fast-scan/route-scan.wasm from route-scan.c beside it (the fast path of the
# routes-log scan, fast-row.ts there). The .wasm is committed and shipped: installing moe-prof
# builds nothing. Needs clang and wasm-ld (Debian: apt-get install clang lld). Also writes the
# source's SHA-256 beside the module; test/fast-scan.test.ts fails when the C source changed
# without a rebuild.
set -euo pipefail
cd "$(dirname "$0")/../src/routes/fast-scan"
clang --target=wasm32 -O3 -nostdlib -fno-builtin -Wall -Wextra -Werror \
  -Wl,--no-entry -Wl,--export-dynamic -Wl,--strip-all \
  -o route-scan.wasm route-scan.c
sha256sum route-scan.c | cut -d' ' -f1 > route-scan.c.sha256
echo "src/routes/fast-scan/route-scan.wasm: $(stat -c %s route-scan.wasm) bytes ($(clang --version | head -1))"
