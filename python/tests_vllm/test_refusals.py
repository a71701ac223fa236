"""What the glue refuses at model load, decided on vLLM 0.15.1's real VllmConfig objects (the
worker holding them is a stand-in: a pipeline- or data-parallel engine needs several GPU
processes to start). Each refusal is a sentence the user reads in the warning and in
`moe-prof run`'s error."""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "fixtures", "models", "qwen1.5-moe-a2.7b")


def _config(**parallel: Any) -> Any:
    from vllm.platforms import current_platform

    type(current_platform).device_type = "cpu"  # no GPU platform on this machine
    from vllm.config import CacheConfig, DeviceConfig, ModelConfig, ParallelConfig, SpeculativeConfig, VllmConfig

    spec = parallel.pop("speculative", False)
    mc = ModelConfig(model=MODEL, skip_tokenizer_init=True)
    return VllmConfig(
        model_config=mc,
        parallel_config=ParallelConfig(**parallel),
        device_config=DeviceConfig(device="cpu"),
        cache_config=CacheConfig(block_size=16),
        speculative_config=SpeculativeConfig(model="ngram", num_speculative_tokens=2, prompt_lookup_max=3)
        if spec
        else None,
    )


def _reason(vc: Any) -> str | None:
    from standins import StandInFusedMoE
    from vllm.moe_prof_capture import glue

    layers = [StandInFusedMoE(vc, i) for i in range(2)]
    return glue.unsupported_reason(SimpleNamespace(vllm_config=vc, use_v2_model_runner=False), layers)


@pytest.mark.parametrize(
    ("parallel", "reason"),
    [
        ({"pipeline_parallel_size": 2}, "pipeline parallelism is not supported"),
        ({"data_parallel_size": 2}, "data parallelism is not supported"),
        ({"speculative": True}, "speculative decoding is not supported"),
    ],
)
def test_parallel_and_speculative_engines_are_refused(parallel: dict[str, Any], reason: str) -> None:
    assert reason in (_reason(_config(**parallel)) or "")


def test_tensor_parallel_is_logged_by_rank_zero() -> None:
    assert _reason(_config(tensor_parallel_size=2)) is None
