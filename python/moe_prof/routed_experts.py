"""vLLM's `routed_experts` (0.20.2: `CompletionOutput.routed_experts`, with
`enable_return_routed_experts`): per request an int32 array [positions, num_hidden_layers, top_k],
row p the experts of position p (prompt and generated tokens; the last generated token is never
forwarded, so P + G - 1 rows). vLLM's capture buffer starts zeroed and only MoE layers write it,
so a dense layer's rows are all 0. Used by the importer and by the cross-check."""

from __future__ import annotations

import numpy as np


class RoutedExpertsError(ValueError):
    """A routed_experts array that does not have vLLM's layout: the message names what is wrong."""


def check_routed_experts(arr: object, name: str) -> np.ndarray:
    """The array as int64 [positions, layers, top_k], or RoutedExpertsError naming `name`."""
    if not isinstance(arr, np.ndarray):
        raise RoutedExpertsError(f"{name}: not an array")
    if arr.ndim != 3:
        raise RoutedExpertsError(
            f"{name}: shape {list(arr.shape)}: expected 3 axes [positions, layers, top_k] (vLLM's routed_experts)"
        )
    if arr.dtype.kind not in "iu":
        raise RoutedExpertsError(f"{name}: dtype {arr.dtype}: expected integer expert ids")
    if arr.shape[0] == 0 or arr.shape[2] == 0:
        raise RoutedExpertsError(f"{name}: shape {list(arr.shape)}: no positions or no experts per token")
    out = arr.astype(np.int64)
    if (out < 0).any():
        p, layer, _ = (int(x) for x in np.argwhere(out < 0)[0])
        raise RoutedExpertsError(f"{name}: position {p} layer {layer}: negative expert id")
    return out


def dense_layers(arr: np.ndarray) -> list[int]:
    """Layers whose every row is all zeros: vLLM never wrote them (dense layers, for top_k >= 2)."""
    return [layer for layer in range(arr.shape[1]) if not arr[:, layer, :].any()]
