"""Which decoder layers of a transformers config are MoE layers, known before any weight loads,
so that a bad `--layers` is refused before the model is loaded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class LayersError(ValueError):
    pass


def moe_layers_of_config(cfg: Any) -> list[int] | None:
    """The MoE layer indices for the families whose configs say it; None when unknown."""
    n = getattr(cfg, "num_hidden_layers", None)
    kind = getattr(cfg, "model_type", "")
    if not isinstance(n, int):
        return None
    if kind in ("qwen2_moe", "qwen3_moe"):
        step = int(getattr(cfg, "decoder_sparse_step", 1) or 1)
        dense = set(getattr(cfg, "mlp_only_layers", None) or [])
        if int(getattr(cfg, "num_experts", 0) or 0) <= 0:
            return []
        return [i for i in range(n) if i not in dense and (i + 1) % step == 0]
    if kind in ("mixtral", "olmoe", "phimoe", "granitemoe"):
        return list(range(n))
    if kind in ("deepseek_v2", "deepseek_v3"):
        first = int(getattr(cfg, "first_k_dense_replace", 0) or 0)
        freq = int(getattr(cfg, "moe_layer_freq", 1) or 1)
        return [i for i in range(n) if i >= first and i % freq == 0]
    return None


def check_layers(wanted: Sequence[int] | None, moe_layers: Sequence[int] | None) -> None:
    """`--layers` must name MoE layers of the model (when the model's MoE layers are known)."""
    if wanted is None or moe_layers is None:
        return
    missing = sorted(set(wanted) - set(moe_layers))
    if not missing:
        return
    if not moe_layers:
        raise LayersError(f"--layers {_spec(wanted)}: the model has no MoE layers")
    raise LayersError(
        f"--layers {_spec(wanted)}: layers {_spec(missing)} are not MoE layers of this model "
        f"(its MoE layers: {_spec(moe_layers)})"
    )


def _spec(layers: Sequence[int]) -> str:
    """[0, 1, 2, 5] -> "0-2,5"."""
    xs = sorted(set(layers))
    parts: list[str] = []
    i = 0
    while i < len(xs):
        j = i
        while j + 1 < len(xs) and xs[j + 1] == xs[j] + 1:
            j += 1
        parts.append(str(xs[i]) if i == j else f"{xs[i]}-{xs[j]}")
        i = j + 1
    return ",".join(parts)
