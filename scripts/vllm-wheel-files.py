#!/usr/bin/env python3
"""Fetch the real vllm==0.15.1 wheel (509 MB; PyPI has no 0.15.1 sdist) once into a cache and
extract only what moe-prof's patch tests need: the files the patch touches and the dist-info.

  vllm-wheel-files.py [--cache DIR]   prints the directory holding vllm/ and vllm-0.15.1.dist-info/

The wheel is checked against its PyPI sha256; the extracted tree is rebuilt if incomplete."""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile

WHEEL = "vllm-0.15.1-cp38-abi3-manylinux_2_31_x86_64.whl"
SHA256 = "d3810299d331fc1031c8a2a9886f1f0e0cc2f14ddad284d337174324b1c83e92"
MEMBERS = [
    "vllm/model_executor/layers/fused_moe/layer.py",
    "vllm/v1/worker/gpu_model_runner.py",
    "vllm/v1/worker/gpu_worker.py",
    "vllm/v1/engine/core.py",
    "vllm/__init__.py",
]
DIST_INFO = "vllm-0.15.1.dist-info/"


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache", "moe-prof"))
    args = ap.parse_args()
    os.makedirs(args.cache, exist_ok=True)
    wheel = os.path.join(args.cache, WHEEL)
    if not os.path.exists(wheel) or _sha256(wheel) != SHA256:
        tmp = os.path.join(args.cache, "download.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        # Platform flags: the wheel's files are pure Python where we need them; any host may fetch it.
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--platform",
            "manylinux_2_31_x86_64",
            "--python-version",
            "3.12",
            "--implementation",
            "cp",
            "-d",
            tmp,
            "vllm==0.15.1",
        ]
        subprocess.run(cmd, check=True, stdout=sys.stderr)
        got = os.path.join(tmp, WHEEL)
        if _sha256(got) != SHA256:
            print(f"vllm-wheel-files: {got}: sha256 mismatch (expected {SHA256})", file=sys.stderr)
            return 1
        os.replace(got, wheel)
        shutil.rmtree(tmp, ignore_errors=True)
    out = os.path.join(args.cache, "vllm-0.15.1-files")
    if not all(os.path.exists(os.path.join(out, m)) for m in MEMBERS + [DIST_INFO + "RECORD"]):
        shutil.rmtree(out, ignore_errors=True)
        tmp_out = out + ".tmp"
        shutil.rmtree(tmp_out, ignore_errors=True)
        with zipfile.ZipFile(wheel) as z:
            names = [n for n in z.namelist() if n in MEMBERS or n.startswith(DIST_INFO)]
            z.extractall(tmp_out, names)
        os.replace(tmp_out, out)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
