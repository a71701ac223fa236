"""The meta line's num_layers: the model's layer count, from its (text) config, checked."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from moe_prof.capture.meta import num_hidden_layers, route_log_meta

BASE = dict(
    model_id="m",
    engine="hf",
    vllm_version="none",
    torch_version="t",
    device="cpu",
    seed=0,
    num_experts=8,
    prefix_caching=False,
)


def test_num_layers_written_when_known_and_absent_otherwise() -> None:
    assert route_log_meta(**BASE, num_layers=24)["num_layers"] == 24
    assert "num_layers" not in route_log_meta(**BASE)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "24"])
def test_num_layers_refuses_what_is_not_a_layer_count(bad: object) -> None:
    with pytest.raises(ValueError, match="num_layers must be an integer >= 1"):
        route_log_meta(**BASE, num_layers=bad)  # type: ignore[arg-type]


class _Multimodal:
    """A config whose layers sit in its text config (transformers' get_text_config)."""

    def get_text_config(self) -> SimpleNamespace:
        return SimpleNamespace(num_hidden_layers=48)


def test_num_hidden_layers_reads_the_text_config() -> None:
    assert num_hidden_layers(SimpleNamespace(num_hidden_layers=24)) == 24
    assert num_hidden_layers(_Multimodal()) == 48
    assert num_hidden_layers(SimpleNamespace()) is None
    assert num_hidden_layers(SimpleNamespace(num_hidden_layers=True)) is None
