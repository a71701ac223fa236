"""Which MoE layers to log: the `VLLM_LOG_MOE_LAYERS` spec."""

from __future__ import annotations

from collections.abc import Sequence


def parse_layer_spec(spec: str) -> list[int]:
    """ "0,5-7" -> [0, 5, 6, 7] (sorted, unique). Raises ValueError naming the bad part."""
    out: set[int] = set()
    for raw in spec.split(","):
        part = raw.strip()
        if not part:
            raise ValueError(f"layer spec {spec!r}: empty item")
        lo_s, sep, hi_s = part.partition("-")
        try:
            lo = int(lo_s)
            hi = int(hi_s) if sep else lo
        except ValueError:
            raise ValueError(f"layer spec {spec!r}: {part!r} is not N or N-M with integers N, M") from None
        if lo < 0 or hi < lo:
            raise ValueError(f"layer spec {spec!r}: {part!r} must be N >= 0 or N-M with N <= M")
        out.update(range(lo, hi + 1))
    return sorted(out)


def select_layers(moe_layer_ids: Sequence[int], wanted: Sequence[int] | None) -> list[int]:
    """The logged layers: all MoE layers, or `wanted`, which must all be MoE layers of the model."""
    present = sorted(set(int(x) for x in moe_layer_ids))
    if wanted is None:
        return present
    missing = sorted(set(wanted) - set(present))
    if missing:
        raise ValueError(
            f"VLLM_LOG_MOE_LAYERS names layers {missing} that are not MoE layers of this model "
            f"(MoE layers: {present[0]}..{present[-1]}, {len(present)} in all)"
            if present
            else f"VLLM_LOG_MOE_LAYERS names layers {missing} but the model has no MoE layers"
        )
    return sorted(set(int(x) for x in wanted))
