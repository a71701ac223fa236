"""vLLM 0.15.1 (../shared/design/vllm-0.15.1-hooks.md): FusedMoE carries its parallel ranks itself."""

from __future__ import annotations

from typing import Any

VERSION = "0.15.1"


def layer_pcp_size(layer: Any) -> int:
    return int(getattr(layer, "pcp_size", 1))


def layer_dp_rank(layer: Any) -> int:
    return int(layer.dp_rank)


def request_id_suffixed() -> bool:
    """InputProcessor always appends `-<8 random chars>` to the user's request id."""
    return True
