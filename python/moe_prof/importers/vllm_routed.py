"""vLLM's per-request `routed_experts` (0.20.2, `enable_return_routed_experts`) saved by the user
as one .npz (one array per request, the key its req_id: `np.savez(path, **{rid: arr})`) or as
.npy files (one per request, the file's stem its req_id). Layout: moe_prof.routed_experts."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import numpy as np

from ..routed_experts import RoutedExpertsError, check_routed_experts, dense_layers
from . import ImportError_
from .routes_out import Row, imported_meta

FORMAT = "vllm-routed-experts"


def load_requests(paths: Sequence[str]) -> dict[str, np.ndarray]:
    """req_id -> routed_experts, in the order given (an .npz: its keys in file order)."""
    out: dict[str, np.ndarray] = {}

    def add(rid: str, arr: object, where: str) -> None:
        if rid in out:
            raise ImportError_(f"{where}: request {rid!r} appears twice")
        try:
            out[rid] = check_routed_experts(arr, where)
        except RoutedExpertsError as e:
            raise ImportError_(str(e)) from None

    for p in paths:
        try:
            if p.endswith(".npz"):
                with np.load(p, allow_pickle=False) as z:
                    for key in z.files:
                        add(key, z[key], f"{p}: {key}")
            elif p.endswith(".npy"):
                add(os.path.splitext(os.path.basename(p))[0], np.load(p, allow_pickle=False), p)
            else:
                raise ImportError_(f"{p}: expected a .npz (one array per request) or .npy files (one per request)")
        except (OSError, ValueError) as e:
            if isinstance(e, ImportError_):
                raise
            raise ImportError_(f"{p}: cannot read: {e}") from None
    if not out:
        raise ImportError_(f"{', '.join(paths)}: no routed_experts arrays")
    return out


def moe_layers(reqs: dict[str, np.ndarray], layers: Sequence[int] | None) -> list[int]:
    """The MoE layers: `layers` (--layers) when given, else the layers vLLM wrote (not all zeros)."""
    first = next(iter(reqs.values()))
    L, k = first.shape[1], first.shape[2]
    for rid, arr in reqs.items():
        if arr.shape[1:] != (L, k):
            raise ImportError_(
                f"request {rid}: shape {list(arr.shape)}: [positions, {L}, {k}] expected (the first request's)"
            )
    if layers is not None:
        bad = [x for x in layers if not 0 <= x < L]
        if bad:
            raise ImportError_(f"--layers: {bad[0]} is not a layer of the arrays (0..{L - 1})")
        return sorted(set(layers))
    if k < 2:
        raise ImportError_(
            "top_k is 1: a dense layer's rows (zeros) look like routing to expert 0; name the MoE layers with --layers"
        )
    allz = np.concatenate(list(reqs.values()), axis=0)
    dense = set(dense_layers(allz))
    found = [x for x in range(L) if x not in dense]
    if not found:
        raise ImportError_("every layer is all zeros: nothing was captured (was enable_return_routed_experts on?)")
    return found


def rows(reqs: dict[str, np.ndarray], layers: Sequence[int]) -> Iterator[Row]:
    for rid, arr in reqs.items():
        for pos in range(arr.shape[0]):
            for layer in layers:
                ids = arr[pos, layer]
                if len(set(ids.tolist())) != len(ids):
                    raise ImportError_(
                        f"request {rid} position {pos} layer {layer}: expert ids {ids.tolist()} repeat "
                        "(a dense layer? name the MoE layers with --layers)"
                    )
                yield Row(rid, pos, layer, ids.tolist())


def convert(
    paths: Sequence[str], *, model_id: str, num_experts: int | None, layers: Sequence[int] | None
) -> tuple[dict[str, object], Iterator[Row]]:
    reqs = load_requests(paths)
    moe = moe_layers(reqs, layers)
    first = next(iter(reqs.values()))
    top = max(int(a[:, moe, :].max()) for a in reqs.values())
    if num_experts is not None and top >= num_experts:
        raise ImportError_(f"--num-experts {num_experts}: the arrays hold expert id {top}")
    meta = imported_meta(
        imported_from=FORMAT,
        model_id=model_id,
        engine="vllm",
        layers=moe,
        top_k=first.shape[2],
        num_experts=num_experts,
        num_layers=first.shape[1],
    )
    return meta, rows(reqs, moe)
