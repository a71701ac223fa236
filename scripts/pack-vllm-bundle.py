#!/usr/bin/env python3
"""Pack vLLM 0.20.2 and the wheels a CUDA 13 / torch 2.11.0 GPU host lacks into parts of at most
48 MiB, for a machine with no network that takes at most 64 MiB of files per call (our H200).

  pack-vllm-bundle.py OUT_DIR     -> OUT_DIR/bundle.tar.xz.00, .01, ... and OUT_DIR/install.sh

Everything comes from PyPI at the versions and hashes of python/requirements-lock-vllm-0.20.2.txt
(pip download --require-hashes), so anyone can repeat it. On the host, after copying the parts
to one folder: `bash install.sh SITE` unpacks them and installs with
`pip install --no-index --no-deps --target SITE`; then `PYTHONPATH=SITE`.

What is left out, and why (measured on an H200 on 2026-12-03, see
../shared/design/vllm-0.20.2-on-the-gpu-machine.md): torch/torchvision/torchaudio/triton and
transformers (the host's own: torch 2.11.0+cu130 is exactly what 0.20.2 pins), vLLM's FlashAttention-2
library `_vllm_fa2_C.abi3.so` (191 MB; imported inside try/except, Hopper uses FA3), xgrammar's
static library `libxgrammar.a` (unused at run time), flashinfer (vLLM falls back to Triton/Marlin
MoE and the PyTorch sampler), and packages only other features import.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCK = os.path.join(ROOT, "python", "requirements-lock-vllm-0.20.2.txt")
PART_BYTES = 48 << 20
# The host lacks these (checked there); versions and hashes come from the lock.
PACKAGES = [
    "vllm",
    # importing vllm and building an LLM
    "pydantic",
    "pydantic-core",
    "annotated-types",
    "typing-inspection",
    "fastapi",
    "starlette",
    "opentelemetry-api",  # fastapi 0.16x imports it
    "openai",
    "httpx2",  # openai 3.x's HTTP client (with httpcore2, truststore)
    "httpcore2",
    "truststore",
    "jiter",
    "sniffio",
    "pyzmq",
    "msgspec",
    "cbor2",
    "pybase64",
    "cachetools",
    "compressed-tensors",
    "gguf",
    "loguru",
    "partial-json-parser",
    "openai-harmony",
    "apache-tvm-ffi",
    "llguidance",
    "xgrammar",
    # `vllm serve`
    "uvicorn",
    "httptools",
    "watchfiles",
    "prometheus-fastapi-instrumentator",
    "python-multipart",
    # api_server imports vllm.entrypoints.sagemaker at module level (found on the H100, 2026-12-05)
    "model-hosting-container-standards",
    "jmespath",  # imported by model_hosting_container_standards
]
# (wheel name prefix, member to drop)
DROP = [
    ("vllm-", "vllm/vllm_flash_attn/_vllm_fa2_C.abi3.so"),
    ("xgrammar-", "xgrammar/lib/libxgrammar.a"),
]
PLATFORMS = ["manylinux_2_35_x86_64", "manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"]


def lock_entries(names: list[str]) -> str:
    """The lock's requirement lines (with their --hash continuation lines) for `names`."""
    wanted = set(names)
    out: list[str] = []
    keep = False
    found: set[str] = set()
    with open(LOCK, encoding="utf-8") as f:
        for line in f:
            if line[:1].isalpha():
                name = line.split("==", 1)[0].strip().lower()
                keep = name in wanted
                if keep:
                    found.add(name)
            elif not line.startswith("    --hash"):
                keep = False
            if keep:
                out.append(line)
    missing = wanted - found
    if missing:
        raise SystemExit(f"pack-vllm-bundle: not in {LOCK}: {', '.join(sorted(missing))}")
    return "".join(out)


def strip_wheel(path: str) -> None:
    """Drop the unneeded member (and its RECORD line); store uncompressed, so xz sees raw bytes."""
    base = os.path.basename(path)
    drops = {m for prefix, m in DROP if base.startswith(prefix)}
    with zipfile.ZipFile(path) as zin:
        names = zin.namelist()
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zout:
            for name in names:
                if name in drops:
                    continue
                data = zin.read(name)
                if name.endswith(".dist-info/RECORD") and drops:
                    data = b"".join(
                        ln for ln in data.splitlines(keepends=True) if ln.split(b",")[0].decode() not in drops
                    )
                zout.writestr(zin.getinfo(name), data, compress_type=zipfile.ZIP_STORED)
    with open(path, "wb") as f:
        f.write(buf.getvalue())


INSTALL = """#!/usr/bin/env bash
# Unpack the bundle parts beside this script and install them into SITE (no index, no deps).
set -euo pipefail
site=${1:?usage: install.sh SITE}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
cat "$here"/bundle.tar.xz.* | xz -dc | tar -xf - -C "$work"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" "$work"/*.whl
rm -rf "$work"
echo "installed into $site: $(ls "$site" | grep -c dist-info) distributions"
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        req = os.path.join(tmp, "bundle.txt")
        with open(req, "w", encoding="utf-8") as f:
            f.write(lock_entries(PACKAGES))
        wheels = os.path.join(tmp, "wheels")
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--require-hashes"]
        cmd += ["--python-version", "3.12", "--implementation", "cp", "-d", wheels, "-r", req]
        for p in PLATFORMS:
            cmd += ["--platform", p]
        subprocess.run(cmd, check=True)
        for name in sorted(os.listdir(wheels)):
            if any(name.startswith(prefix) for prefix, _ in DROP):
                strip_wheel(os.path.join(wheels, name))
        for old in os.listdir(args.out):
            if old.startswith("bundle.tar.xz."):
                os.remove(os.path.join(args.out, old))
        tar = subprocess.Popen(["tar", "-C", wheels, "-cf", "-", "."], stdout=subprocess.PIPE)
        # -6: 150 MiB in 3 parts either way; -9e took 20 minutes on 2 busy cores
        xz = subprocess.Popen(["xz", "-6", "-T0", "-c"], stdin=tar.stdout, stdout=subprocess.PIPE)
        assert tar.stdout is not None and xz.stdout is not None
        tar.stdout.close()
        n = 0
        while True:
            chunk = xz.stdout.read(PART_BYTES)
            if not chunk:
                break
            with open(os.path.join(args.out, f"bundle.tar.xz.{n:02d}"), "wb") as f:
                f.write(chunk)
            n += 1
        if xz.wait() != 0 or tar.wait() != 0:
            raise SystemExit("pack-vllm-bundle: tar | xz failed")
    with open(os.path.join(args.out, "install.sh"), "w", encoding="utf-8") as f:
        f.write(INSTALL)
    for name in sorted(os.listdir(args.out)):
        print(f"{name}\t{os.path.getsize(os.path.join(args.out, name)) / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
