"""The package inside each release's patch (patches/vllm-v<VERSION>-moe-logger.patch) must equal
what python/ generates. (The call-site hunks need pristine vLLM files: .ci/run checks them
against the real wheels.)"""

import importlib.util
import os

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def _gen():
    spec = importlib.util.spec_from_file_location("gen_vllm_patch", os.path.join(ROOT, "scripts", "gen-vllm-patch.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("version", ["0.15.1", "0.20.2"])
def test_generated_package_in_patch_matches_python_sources(version):
    gen = _gen()
    release = gen.RELEASES[version]
    with open(release.patch, encoding="utf-8") as f:
        in_patch = gen.new_files_in_patch(f.read())
    want = gen.new_files(release)
    assert sorted(in_patch) == sorted(want)
    stale = [p for p in want if in_patch[p] != want[p]]
    assert not stale, f"patch is stale for {stale}: run scripts/gen-vllm-patch.py --vllm {version} --vllm-src DIR"


@pytest.mark.parametrize("version", ["0.15.1", "0.20.2"])
def test_each_patch_carries_only_its_own_adapter(version):
    files = _gen().new_files(_gen().RELEASES[version])
    adapters = sorted(p for p in files if "/vllm_adapters/" in p)
    own = "v" + version.replace(".", "_") + ".py"
    assert adapters == [f"vllm/moe_prof_capture/vllm_adapters/{n}" for n in ("__init__.py", own)]


def test_glue_imports_rewritten_for_vllm_package():
    glue = _gen().new_files()["vllm/moe_prof_capture/glue.py"]
    assert "from .env import capture_from_settings, log_enabled, resolve_settings" in glue
    assert "from .capture." not in glue.replace("from .capture import RouteCapture", "")
