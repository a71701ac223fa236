"""SGLang's expert-distribution recorder dump (`/dump_expert_distribution_record`, a torch .pt
written by python/sglang/srt/eplb/expert_distribution.py) in `per_token` mode: per forward pass
a record with `topk_ids_of_layer` [num_layers, num_tokens, 8] (physical expert ids, -1 where
unused: dense layers, columns beyond top_k), `positions`, `input_ids`, `extend_seq_lens` and
`forward_mode`, and beside the records `last_physical_to_logical_map` [num_layers, physical].

The records carry no request ids: each sequence of a forward pass becomes its own req_id
"<forward_pass_id>:<sequence>" (token_idx its position). `stat` and `per_pass` dumps hold counts
only and are refused: they have no per-token expert ids."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from . import ImportError_
from .routes_out import Row, imported_meta

FORMAT = "sglang-expert-distribution-per-token"

# sglang.srt.model_executor.forward_batch_info.ForwardMode: EXTEND = 1, DECODE = 2, MIXED = 3, IDLE = 4.
_PHASE = {1: "prefill", 2: "decode", 3: None}
_IDLE = 4

COUNTS_ONLY = (
    "holds expert counts, not per-token expert ids; record with "
    "--expert-distribution-recorder-mode per_token to import routes"
)


def load_dump(path: str) -> dict[str, Any]:
    try:
        import torch
    except ModuleNotFoundError:
        raise ImportError_(
            f"{path}: reading SGLang's .pt dump needs torch in this Python; pass --python with one that has it "
            "(the .venv of `moe-prof setup` does)"
        ) from None
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch's own message, whatever it is: the file is not a dump it can read
        raise ImportError_(f"{path}: cannot read as a torch file: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ImportError_(f"{path}: not an expert-distribution dump (a {type(data).__name__}, not a dict)")
    if "logical_count" in data:
        raise ImportError_(f"{path}: a `stat` dump (logical_count) {COUNTS_ONLY}")
    if "records" not in data:
        raise ImportError_(f"{path}: not an expert-distribution dump: no `records` (keys: {sorted(data)})")
    return data


def _ids(rec: dict[str, Any], path: str, i: int) -> np.ndarray:
    t = rec.get("topk_ids_of_layer")
    if t is None:
        raise ImportError_(f"{path}: records[{i}]: no topk_ids_of_layer: a `per_pass` dump {COUNTS_ONLY}")
    a = t.numpy() if hasattr(t, "numpy") else np.asarray(t)
    if a.ndim != 3:
        raise ImportError_(f"{path}: records[{i}].topk_ids_of_layer: shape {list(a.shape)}, expected 3 axes")
    return a.astype(np.int64)


def _sequences(rec: dict[str, Any], n: int, path: str, i: int) -> list[tuple[int, int]]:
    """(start, length) of each sequence of the pass: extend_seq_lens, else one token each (decode)."""
    lens = rec.get("extend_seq_lens")
    if lens is None:
        return [(t, 1) for t in range(n)]
    lens = [int(x) for x in lens]
    if sum(lens) != n:
        raise ImportError_(f"{path}: records[{i}].extend_seq_lens: sum {sum(lens)}, but the pass has {n} tokens")
    out, s = [], 0
    for m in lens:
        out.append((s, m))
        s += m
    return out


def convert(paths: Sequence[str], *, model_id: str, num_experts: int | None) -> tuple[dict[str, Any], Iterator[Row]]:
    if len(paths) != 1:
        raise ImportError_("sglang: one dump file (each rank writes its own; import them one by one)")
    path = paths[0]
    data = load_dump(path)
    recs = [r for r in data["records"] if int(r.get("forward_mode", 0)) != _IDLE]
    if not recs:
        raise ImportError_(f"{path}: records: none with tokens (was recording on while requests ran?)")
    arrays = [_ids(r, path, i) for i, r in enumerate(recs)]
    L = arrays[0].shape[0]
    used = np.zeros(L, dtype=bool)
    width = 0
    for a in arrays:
        if a.shape[0] != L:
            raise ImportError_(f"{path}: records: layer counts differ ({a.shape[0]} vs {L})")
        ok = a >= 0
        used |= ok.any(axis=(1, 2))
        if ok.any():
            width = max(width, int(ok.sum(axis=2).max()))
    layers = [int(x) for x in np.flatnonzero(used)]
    if not layers:
        raise ImportError_(f"{path}: records: no expert id in any layer")
    k = width
    m = data.get("last_physical_to_logical_map")
    p2l = None if m is None else (m.numpy() if hasattr(m, "numpy") else np.asarray(m)).astype(np.int64)
    E = num_experts if num_experts is not None else (None if p2l is None else int(p2l.max()) + 1)
    meta = imported_meta(
        imported_from=FORMAT,
        model_id=model_id,
        engine="sglang",
        layers=layers,
        top_k=k,
        num_experts=E,
        num_layers=L,
        extra={"sglang_physical_to_logical": "last_physical_to_logical_map" if p2l is not None else "none"},
    )

    def rows() -> Iterator[Row]:
        for i, (rec, a) in enumerate(zip(recs, arrays, strict=True)):
            n = a.shape[1]
            pos = [int(x) for x in rec["positions"]]
            tok = rec.get("input_ids")
            if len(pos) != n:
                raise ImportError_(f"{path}: records[{i}].positions: {len(pos)} entries, but {n} tokens")
            mode = int(rec.get("forward_mode", 0))
            if mode not in _PHASE:
                raise ImportError_(
                    f"{path}: records[{i}].forward_mode: {mode} (speculative or other passes are not routes of one request)"
                )
            pass_id = int(rec.get("forward_pass_id", i))
            for s, (start, length) in enumerate(_sequences(rec, n, path, i)):
                rid = f"{pass_id}:{s}"
                for t in range(start, start + length):
                    for layer in layers:
                        ids = a[layer, t]
                        got = ids[:k]
                        if (got < 0).any() or (ids[k:] >= 0).any():
                            raise ImportError_(
                                f"{path}: records[{i}].topk_ids_of_layer[{layer}][{t}]: {ids.tolist()}: "
                                f"expected {k} expert ids then -1"
                            )
                        logical = got if p2l is None else p2l[layer, got]
                        if len(set(logical.tolist())) != k:
                            raise ImportError_(
                                f"{path}: records[{i}].topk_ids_of_layer[{layer}][{t}]: physical {got.tolist()} "
                                f"are logical experts {logical.tolist()}: one expert twice"
                            )
                        yield Row(
                            rid,
                            pos[t],
                            layer,
                            logical.tolist(),
                            step=pass_id,
                            phase=_PHASE[mode],
                            token_id=None if tok is None else int(tok[t]),
                        )

    return meta, rows()
