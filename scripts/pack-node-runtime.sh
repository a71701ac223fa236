#!/usr/bin/env bash
# Pack Node.js, the built CLI, its production node_modules and the shared libraries canvas links
# against (plus a font) into one folder, to run `moe-prof` on a GPU host that has CUDA and Python
# but no Node.js or cairo (our hardware test machine). Same CPU architecture and a glibc at least
# as new as this machine's are required there. Needs patchelf (Debian package).
#   scripts/pack-node-runtime.sh OUT_DIR      then on the host:  OUT_DIR/unpack.sh DEST && . DEST/env.sh
set -euo pipefail
out=${1:?usage: pack-node-runtime.sh OUT_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

(cd "$root" && npm run -s build)
mkdir -p "$stage/bin" "$stage/lib" "$stage/fonts" "$stage/app"
cp "$(readlink -f "$(command -v node)")" "$stage/bin/node"
# The app: what the npm package ships (package.json "files": built JS, the scanner's .wasm,
# python/, patches/, fixtures/, ...), package.json and production modules only.
(cd "$root" && cp -r dist package.json "$stage/app/" &&
  node -e 'for (const f of require("./package.json").files) console.log(f)' |
  while read -r f; do mkdir -p "$stage/app/$(dirname "$f")" && cp -r "$f" "$stage/app/$(dirname "$f")/"; done)
(cd "$root" && tar -cf - --exclude=node_modules/typescript --exclude=node_modules/@types --exclude='*.map' node_modules) | tar -xf - -C "$stage/app"
# canvas's libraries, except the C/C++ runtime the host has anyway.
ldd "$root/node_modules/canvas/build/Release/canvas.node" | awk '/=> \//{print $3}' |
  grep -Ev '/(libc|libm|libpthread|libdl|librt|libstdc\+\+|libgcc_s|ld-linux-x86-64)\.so' |
  while read -r lib; do cp -L "$lib" "$stage/lib/"; done
# Find those libraries through rpaths, not LD_LIBRARY_PATH, which would leak into the Python
# workers `moe-prof run` starts and shadow the host's own libz, libexpat, libffi, ...
patchelf --force-rpath --set-rpath '$ORIGIN/../../../../../lib' "$stage/app/node_modules/canvas/build/Release/canvas.node"
for lib in "$stage"/lib/*.so*; do patchelf --force-rpath --set-rpath '$ORIGIN' "$lib"; done
cp /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf "$stage/fonts/"
cat > "$stage/fonts/fonts.conf" <<'CONF'
<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig><dir prefix="relative">.</dir><cachedir>/tmp/moe-prof-fontcache</cachedir></fontconfig>
CONF
cat > "$stage/env.sh" <<'ENV'
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PATH="$here/bin:$PATH" FONTCONFIG_FILE="$here/fonts/fonts.conf"
alias moe-prof="node $here/app/dist/src/cli.js"
ENV
tar -C "$stage" -cf - . | xz -T2 -6 > "$out/node-runtime.tar.xz"
cat > "$out/unpack.sh" <<'UNPACK'
#!/usr/bin/env bash
set -euo pipefail
dest=${1:?usage: unpack.sh DEST}
mkdir -p "$dest" && xz -dc "$(dirname "$0")/node-runtime.tar.xz" | tar -xf - -C "$dest"
UNPACK
chmod +x "$out/unpack.sh"
ls -la "$out"
