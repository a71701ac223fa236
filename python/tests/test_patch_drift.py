"""The package inside patches/vllm-v0.15.1-moe-logger.patch must equal what python/ generates.
(The call-site hunks need pristine vLLM files: .ci/run checks them against the real wheel.)"""

import importlib.util
import os

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def _gen():
    spec = importlib.util.spec_from_file_location("gen_vllm_patch", os.path.join(ROOT, "scripts", "gen-vllm-patch.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_generated_package_in_patch_matches_python_sources():
    gen = _gen()
    with open(gen.PATCH, encoding="utf-8") as f:
        in_patch = gen.new_files_in_patch(f.read())
    want = gen.new_files()
    assert sorted(in_patch) == sorted(want)
    stale = [p for p in want if in_patch[p] != want[p]]
    assert not stale, f"patch is stale for {stale}: run scripts/gen-vllm-patch.py --vllm-src DIR"


def test_glue_imports_rewritten_for_vllm_package():
    glue = _gen().new_files()["vllm/moe_prof_capture/glue.py"]
    assert "from .env import capture_from_settings, log_enabled, resolve_settings" in glue
    assert "from .capture." not in glue.replace("from .capture import RouteCapture", "")
