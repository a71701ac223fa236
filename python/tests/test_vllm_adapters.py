"""The per-release adapters: found by version (a local build tag ignored), refused by name otherwise,
and each reads what its release's FusedMoE has (stand-in layers shaped like each release's)."""

from types import SimpleNamespace

import pytest
from moe_prof import vllm_adapters


def test_adapter_found_by_version_and_local_tag_ignored():
    assert vllm_adapters.for_version("0.15.1").VERSION == "0.15.1"
    assert vllm_adapters.for_version("0.20.2+cu130").VERSION == "0.20.2"


def test_unsupported_release_is_refused_by_name():
    with pytest.raises(RuntimeError, match=r"no adapter for vLLM 0\.19\.0"):
        vllm_adapters.for_version("0.19.0")


def test_each_release_reads_its_own_layer_attributes():
    old = SimpleNamespace(pcp_size=2, dp_rank=1)  # 0.15.1: on FusedMoE itself
    new = SimpleNamespace(moe_config=SimpleNamespace(pcp_size=2, dp_rank=1))  # 0.20.2: in its FusedMoEConfig
    a15, a20 = vllm_adapters.for_version("0.15.1"), vllm_adapters.for_version("0.20.2")
    assert (a15.layer_pcp_size(old), a15.layer_dp_rank(old)) == (2, 1)
    assert (a20.layer_pcp_size(new), a20.layer_dp_rank(new)) == (2, 1)
    # 0.20.2's FusedMoE has no pcp_size: reading it the 0.15.1 way would say 1 and let PCP through
    assert a15.layer_pcp_size(new) == 1


def test_deterministic_refused_for_quantized_moe_on_0_20_2():
    """vLLM 0.20.2 fails a GPTQ model under batch invariance deep in load (seen on an H200): say so first."""
    from moe_prof.engines.vllm_engine import deterministic_problem

    assert "no MoE kernel for gptq" in (deterministic_problem("gptq", "0.20.2") or "")
    assert deterministic_problem(None, "0.20.2") is None
    assert deterministic_problem("gptq", "0.15.1") is None


def test_request_id_suffix_follows_the_release(monkeypatch):
    """0.15.1 always suffixes the user's id; 0.20.2 unless VLLM_DISABLE_REQUEST_ID_RANDOMIZATION
    (read through vllm.envs, here a stand-in module)."""
    import sys
    import types

    assert vllm_adapters.for_version("0.15.1").request_id_suffixed() is True
    a20 = vllm_adapters.for_version("0.20.2")
    envs = types.ModuleType("vllm.envs")
    vllm = types.ModuleType("vllm")
    vllm.envs = envs  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    monkeypatch.setitem(sys.modules, "vllm.envs", envs)
    for disabled, suffixed in ((False, True), (True, False)):
        envs.VLLM_DISABLE_REQUEST_ID_RANDOMIZATION = disabled  # type: ignore[attr-defined]
        assert a20.request_id_suffixed() is suffixed
