"""Graph-safe MoE route capture (torch + numpy + stdlib; knows nothing of vLLM).

RouteCapture and capture_from_settings need torch and are loaded on first use, so the CPU-only parts
(attribution, layer specs, JSONL, the writer) import without it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .layers import parse_layer_spec, select_layers
from .segments import Segment, expand_segments, shift_request_id, split_by_phase, user_request_id

if TYPE_CHECKING:
    from .capture import RouteCapture
    from .env import capture_from_settings

__all__ = [
    "RouteCapture",
    "Segment",
    "capture_from_settings",
    "parse_layer_spec",
    "select_layers",
    "expand_segments",
    "shift_request_id",
    "split_by_phase",
    "user_request_id",
]


def __getattr__(name: str) -> Any:
    if name == "RouteCapture":
        from .capture import RouteCapture

        return RouteCapture
    if name == "capture_from_settings":
        from .env import capture_from_settings

        return capture_from_settings
    raise AttributeError(name)
