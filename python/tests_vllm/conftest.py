"""The tier on vLLM's own objects: runs with the interpreter of the venv that `moe-prof setup`
makes from requirements-lock.txt (vLLM 0.15.1, torch 2.9.1), patched; or of one made with
`moe-prof setup --vllm 0.20.2` (the same tests on vLLM 0.20.2's objects).

Without that venv the tier is skipped, except where MOE_PROF_REQUIRE_VLLM=1 (CI sets it): then a
missing or stale install fails every test with what to do."""

from __future__ import annotations

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _problem() -> str | None:
    try:
        import vllm
    except ImportError:
        return f"vllm is not importable from {sys.executable}: run `moe-prof setup` and use .venv/bin/python"
    if getattr(vllm, "__version__", "") not in ("0.15.1", "0.20.2"):
        return f"vllm {vllm.__version__} is installed, the tier needs 0.15.1 or 0.20.2"
    pkg = os.path.join(os.path.dirname(vllm.__file__), "moe_prof_capture")
    if not os.path.isdir(pkg):
        return "the moe-prof patch is not applied: run `moe-prof patch apply --python .venv/bin/python`"
    site = os.path.dirname(os.path.dirname(vllm.__file__))
    stale = [name for name, text in _generated_package().items() if _read(os.path.join(site, name)) != text]
    if stale:
        return f"the applied patch is older than python/ ({', '.join(stale)}): revert and apply the patch again"
    if not os.path.exists(os.path.join(ROOT, "dist", "src", "cli.js")):
        return "dist/ is missing: run `npm run build` (the tier checks logs with `moe-prof validate`)"
    return None


def _generated_package() -> dict[str, str]:
    """What the current python/ sources put into vllm/moe_prof_capture/ (scripts/gen-vllm-patch.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_vllm_patch", os.path.join(ROOT, "scripts", "gen-vllm-patch.py"))
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    import vllm

    return mod.new_files(mod.RELEASES[vllm.__version__])


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return None


_PROBLEM = _problem()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _PROBLEM is None:
        return
    required = os.environ.get("MOE_PROF_REQUIRE_VLLM") == "1"
    for item in items:
        item.add_marker(pytest.mark.skip(reason=_PROBLEM) if not required else pytest.mark.usefixtures("_fail_setup"))


@pytest.fixture
def _fail_setup() -> None:
    pytest.fail(_PROBLEM or "")
