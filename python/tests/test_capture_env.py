import os

import pytest
from moe_prof.capture.env import log_enabled, resolve_settings


def test_unset_empty_and_zero_mean_off():
    for env in [{}, {"VLLM_LOG_MOE": ""}, {"VLLM_LOG_MOE": "0"}]:
        assert resolve_settings(env) is None
        assert not log_enabled(env)


def test_one_means_default_file_in_cwd():
    s = resolve_settings({"VLLM_LOG_MOE": "1"})
    assert s is not None and s.out_path == os.path.abspath("moe_routes.jsonl")
    assert s.layers is None and not s.start_paused


def test_path_layers_and_paused(tmp_path):
    env = {"VLLM_LOG_MOE": str(tmp_path / "r.jsonl"), "VLLM_LOG_MOE_LAYERS": "0,5-7", "VLLM_LOG_MOE_PAUSED": "1"}
    s = resolve_settings(env)
    assert s is not None
    assert s.out_path == str(tmp_path / "r.jsonl")
    assert s.layers == [0, 5, 6, 7] and s.start_paused


def test_bad_layer_spec_names_the_variable():
    with pytest.raises(ValueError, match="VLLM_LOG_MOE_LAYERS"):
        resolve_settings({"VLLM_LOG_MOE": "1", "VLLM_LOG_MOE_LAYERS": "x"})
