"""vLLM 0.20.2 (patches/vllm-0.20.2-hooks.md): FusedMoE's parallel ranks moved into its
FusedMoEConfig (`layer.moe_config`); `layer.pcp_size` / `layer.dp_rank` no longer exist."""

from __future__ import annotations

from typing import Any

VERSION = "0.20.2"


def layer_pcp_size(layer: Any) -> int:
    return int(layer.moe_config.pcp_size)


def layer_dp_rank(layer: Any) -> int:
    return int(layer.moe_config.dp_rank)


def request_id_suffixed() -> bool:
    """InputProcessor appends `-<8 random chars>` unless VLLM_DISABLE_REQUEST_ID_RANDOMIZATION
    (then the engine's id is the user's: stripping would cut `cmpl-<id>-0` to `cmpl-<id>`)."""
    import vllm.envs as envs

    return not envs.VLLM_DISABLE_REQUEST_ID_RANDOMIZATION
