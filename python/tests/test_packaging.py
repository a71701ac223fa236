"""python/pyproject.toml builds a wheel that holds the whole moe_prof package (every module and the
worker's job.schema.json, no tests), at package.json's version. Built offline from a copy of
python/ (no build isolation), so it needs setuptools >= 77 (python/requirements-test.txt)."""

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

PYTHON_DIR = os.path.join(os.path.dirname(__file__), "..")
ROOT = os.path.join(PYTHON_DIR, "..")


def _setuptools_major() -> int:
    try:
        return int(importlib.metadata.version("setuptools").split(".")[0])
    except importlib.metadata.PackageNotFoundError:
        return 0


@pytest.mark.skipif(
    _setuptools_major() < 77,
    reason="needs setuptools >= 77 to build offline (pip install -r python/requirements-test.txt)",
)
def test_wheel_holds_the_package_at_the_cli_version(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(PYTHON_DIR, src, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "build", "*.egg-info"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(tmp_path / "dist"),
            str(src),
        ],
        check=True,
    )
    (wheel,) = (tmp_path / "dist").glob("moe_prof-*.whl")
    with open(os.path.join(ROOT, "package.json"), encoding="utf-8") as f:
        assert wheel.name.startswith(f"moe_prof-{json.load(f)['version']}-py3-none-any")
    in_wheel = {n for n in zipfile.ZipFile(wheel).namelist() if not n.startswith("moe_prof-")}
    in_source = set()
    for d, dirs, files in os.walk(os.path.join(PYTHON_DIR, "moe_prof")):
        dirs[:] = [x for x in dirs if x != "__pycache__"]
        for f in files:
            if f.endswith((".py", ".json")):
                in_source.add(os.path.relpath(os.path.join(d, f), PYTHON_DIR).replace(os.sep, "/"))
    assert "moe_prof/worker/job.schema.json" in in_source
    assert in_wheel == in_source
