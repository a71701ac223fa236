#!/usr/bin/env bash
# Builds wasm/route-scan.wasm from native/route-scan.c (the fast path of the routes-log scan,
# src/routes/fast-row.ts). The .wasm is committed and shipped: installing moe-prof builds nothing.
# Needs clang and wasm-ld (Debian: apt-get install clang lld). Also writes the source's SHA-256
# beside the module; test/fast-scan.test.ts fails when the C source changed without a rebuild.
set -euo pipefail
cd "$(dirname "$0")/.."
clang --target=wasm32 -O3 -nostdlib -fno-builtin -Wall -Wextra -Werror \
  -Wl,--no-entry -Wl,--export-dynamic -Wl,--strip-all \
  -o wasm/route-scan.wasm native/route-scan.c
sha256sum native/route-scan.c | cut -d' ' -f1 > wasm/route-scan.c.sha256
echo "wasm/route-scan.wasm: $(stat -c %s wasm/route-scan.wasm) bytes ($(clang --version | head -1))"
