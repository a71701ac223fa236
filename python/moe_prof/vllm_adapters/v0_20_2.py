"""vLLM 0.20.2 (patches/vllm-0.20.2-hooks.md): FusedMoE's parallel ranks moved into its
FusedMoEConfig (`layer.moe_config`); `layer.pcp_size` / `layer.dp_rank` no longer exist."""

from __future__ import annotations

from typing import Any

VERSION = "0.20.2"


def layer_pcp_size(layer: Any) -> int:
    return int(layer.moe_config.pcp_size)


def layer_dp_rank(layer: Any) -> int:
    return int(layer.moe_config.dp_rank)
