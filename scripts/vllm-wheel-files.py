#!/usr/bin/env python3
"""Fetch a supported release's real vLLM wheel (0.15.1: 509 MB, 0.20.2: 244 MB; PyPI has no
sdists of them) once into a cache and extract only what moe-prof's patch tests need: the files
that release's patch touches and the dist-info.

  vllm-wheel-files.py [--vllm 0.15.1|0.20.2] [--cache DIR]
      prints the directory holding vllm/ and vllm-<VERSION>.dist-info/

The wheel is checked against its PyPI sha256; the extracted tree is rebuilt if incomplete."""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile

# version -> (wheel file, its sha256 on PyPI, platform tag to ask pip for, members the patch touches)
RELEASES = {
    "0.15.1": (
        "vllm-0.15.1-cp38-abi3-manylinux_2_31_x86_64.whl",
        "d3810299d331fc1031c8a2a9886f1f0e0cc2f14ddad284d337174324b1c83e92",
        "manylinux_2_31_x86_64",
        [
            "vllm/model_executor/layers/fused_moe/layer.py",
            "vllm/v1/worker/gpu_model_runner.py",
            "vllm/v1/worker/gpu_worker.py",
            "vllm/v1/engine/core.py",
            "vllm/__init__.py",
        ],
    ),
    "0.20.2": (
        "vllm-0.20.2-cp38-abi3-manylinux_2_35_x86_64.whl",
        "22a7dd06eb03371298e13d6100f3dedbf307352342aaf08e87c929c60aae9b4d",
        "manylinux_2_35_x86_64",
        [
            "vllm/model_executor/layers/fused_moe/runner/moe_runner.py",
            "vllm/v1/worker/gpu_model_runner.py",
            "vllm/v1/worker/gpu_worker.py",
            "vllm/v1/engine/core.py",
            "vllm/__init__.py",
        ],
    ),
}


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vllm", default="0.15.1", choices=sorted(RELEASES))
    ap.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache", "moe-prof"))
    args = ap.parse_args()
    wheel_name, sha256, platform, members = RELEASES[args.vllm]
    dist_info = f"vllm-{args.vllm}.dist-info/"
    os.makedirs(args.cache, exist_ok=True)
    wheel = os.path.join(args.cache, wheel_name)
    if not os.path.exists(wheel) or _sha256(wheel) != sha256:
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
            platform,
            "--python-version",
            "3.12",
            "--implementation",
            "cp",
            "-d",
            tmp,
            f"vllm=={args.vllm}",
        ]
        subprocess.run(cmd, check=True, stdout=sys.stderr)
        got = os.path.join(tmp, wheel_name)
        if _sha256(got) != sha256:
            print(f"vllm-wheel-files: {got}: sha256 mismatch (expected {sha256})", file=sys.stderr)
            return 1
        os.replace(got, wheel)
        shutil.rmtree(tmp, ignore_errors=True)
    out = os.path.join(args.cache, f"vllm-{args.vllm}-files")
    if not all(os.path.exists(os.path.join(out, m)) for m in members + [dist_info + "RECORD"]):
        shutil.rmtree(out, ignore_errors=True)
        tmp_out = out + ".tmp"
        shutil.rmtree(tmp_out, ignore_errors=True)
        with zipfile.ZipFile(wheel) as z:
            names = [n for n in z.namelist() if n in members or n.startswith(dist_info)]
            z.extractall(tmp_out, names)
        os.replace(tmp_out, out)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
