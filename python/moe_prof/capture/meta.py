"""The routes log's meta line (line 1), built in this one place for every engine.

RouteCapture adds what it decides itself: layers_logged, top_k, schema_version."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def num_hidden_layers(cfg: Any) -> int | None:
    """The model's decoder layer count from its config (a multimodal one's text config; vLLM's
    `hf_text_config` is one already); None when the config does not say. The meta's num_layers."""
    text = cfg.get_text_config() if hasattr(cfg, "get_text_config") else cfg
    n = getattr(text, "num_hidden_layers", None)
    return n if isinstance(n, int) and not isinstance(n, bool) and n >= 1 else None


def route_log_meta(
    *,
    model_id: str,
    engine: str,
    vllm_version: str,
    torch_version: str,
    device: str,
    seed: int,
    num_experts: int,
    prefix_caching: bool,
    num_layers: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The schema's meta fields plus what a reader needs to interpret the rows:
    `prefix_caching`: rows exist only for computed positions, so a request whose prompt prefix
    was cached has no rows for that prefix (its first row is at the first computed position).
    `num_layers`: the model's decoder layer count (config num_hidden_layers), written when known,
    so that a reader can tell the layers that were not logged from layers that do not exist."""
    meta: dict[str, Any] = {
        "model_id": str(model_id),
        "vllm_version": str(vllm_version),
        "torch_version": str(torch_version),
        "device": str(device),
        "seed": int(seed),
        "num_experts": int(num_experts),
        "engine": engine,
        "prefix_caching": bool(prefix_caching),
    }
    if num_layers is not None:
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"route log meta: num_layers must be an integer >= 1, not {num_layers!r}")
        meta["num_layers"] = num_layers
    for k, v in (extra or {}).items():
        if k in meta:
            raise ValueError(f"route log meta: {k!r} is set twice")
        meta[k] = v
    return meta
