"""`VLLM_LOG_MOE*` environment variables -> capture settings (pure) -> a RouteCapture."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .jsonl import format_procs, usable_cores
from .layers import parse_layer_spec
from .parquet import FORMATS

if TYPE_CHECKING:  # torch only where buffers are made
    from .capture import RouteCapture

DEFAULT_FILE = "moe_routes.jsonl"
_OFF = ("", "0")


@dataclass(frozen=True)
class CaptureSettings:
    out_path: str
    layers: list[int] | None
    start_paused: bool
    log_format: str = "jsonl"


def log_enabled(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get("VLLM_LOG_MOE", "").strip() not in _OFF


def resolve_settings(environ: Mapping[str, str] | None = None) -> CaptureSettings | None:
    """None when logging is off. `=1` means ./moe_routes.jsonl."""
    env = os.environ if environ is None else environ
    raw = env.get("VLLM_LOG_MOE", "").strip()
    if raw in _OFF:
        return None
    path = DEFAULT_FILE if raw == "1" else raw
    path = os.path.abspath(path)
    spec = env.get("VLLM_LOG_MOE_LAYERS", "").strip()
    try:
        layers = parse_layer_spec(spec) if spec else None
    except ValueError as e:
        raise ValueError(f"VLLM_LOG_MOE_LAYERS: {e}") from None
    paused = env.get("VLLM_LOG_MOE_PAUSED", "").strip() not in _OFF
    fmt = env.get("VLLM_LOG_MOE_FORMAT", "").strip().lower() or "jsonl"
    if fmt not in FORMATS:
        raise ValueError(f"VLLM_LOG_MOE_FORMAT: {fmt!r} is not one of {', '.join(FORMATS)}")
    format_procs(env, usable_cores())  # the writer reads it; a bad value is refused here, at start
    return CaptureSettings(path, layers, paused, fmt)


def capture_from_settings(
    settings: CaptureSettings,
    *,
    meta: dict[str, object],
    moe_layer_ids: Sequence[int],
    top_k: int,
    max_rows: int,
    device: object,
    out_path: str | None = None,
) -> RouteCapture:
    """The capture VLLM_LOG_MOE* asked for (resolve_settings); `out_path` replaces its path."""
    from .capture import RouteCapture

    return RouteCapture(
        out_path=out_path or settings.out_path,
        meta=meta,
        moe_layer_ids=moe_layer_ids,
        layers=settings.layers,
        top_k=top_k,
        max_rows=max_rows,
        device=device,  # type: ignore[arg-type]
        start_paused=settings.start_paused,
        log_format=settings.log_format,
    )
