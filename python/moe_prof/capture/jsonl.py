"""Route and meta lines of `moe_routes.jsonl` from plain numpy arrays.

Standalone on purpose (stdlib + numpy, no package-relative imports): the writer process loads
this file by path, without importing the package that holds it (inside vLLM that would import
vLLM itself)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import numpy as np

SCHEMA_VERSION = 1
# Rows of a segment with this phase were computed again (a preempted request's recompute) and
# were logged the first time: the writer skips them, so every position is logged once.
RECOMPUTED = "recomputed"


def format_meta(meta: Mapping[str, object]) -> str:
    return json.dumps({"type": "meta", **meta}, separators=(",", ":")) + "\n"


def format_routes(
    segments: Sequence[tuple[str, int, int, str]],
    ids: np.ndarray,
    weights: np.ndarray,
    tokens: np.ndarray | None,
    layers: Sequence[int],
    step: int,
) -> str:
    """Lines for one step: for each row (in batch order), one line per logged layer.

    segments: (req_id, first_pos, num_rows, phase) in batch order; their rows sum to ids.shape[0].
    ids: int32 [rows, len(layers), top_k]; weights: float32 of the same shape; tokens: [rows] or None."""
    n = ids.shape[0]
    if weights.shape != ids.shape or ids.ndim != 3 or ids.shape[1] != len(layers):
        raise ValueError(f"route arrays: ids {ids.shape}, weights {weights.shape}, {len(layers)} layers")
    if sum(s[2] for s in segments) != n:
        raise ValueError(f"segments cover {sum(s[2] for s in segments)} rows but the step has {n}")
    id_rows = ids.tolist()
    w_rows = weights.astype(np.float64).tolist()  # float64 holds each float32 exactly
    tok_list = tokens.tolist() if tokens is not None else None
    layer_txt = [str(int(x)) for x in layers]
    k = ids.shape[2]
    # '%.9g' round-trips every float32 exactly (9 significant digits suffice for binary32); one
    # format string per line part keeps the writer at several 100k lines/s.
    line_fmt = '%s%s,"topk_ids":[' + ",".join(["%d"] * k) + '],"topk_weights":[' + ",".join(["%.9g"] * k) + "]%s"
    out: list[str] = []
    row = 0
    for req_id, first_pos, num_rows, phase in segments:
        if phase == RECOMPUTED:
            row += num_rows
            continue
        if phase not in ("prefill", "decode"):
            raise ValueError(f"segment of request {req_id!r}: phase {phase!r} is not prefill or decode")
        req_txt = json.dumps(str(req_id))
        for j in range(num_rows):
            r = row + j
            tail = f',"phase":"{phase}"'
            if tok_list is not None:
                tail += f',"token_id":{tok_list[r]}'
            tail += f',"step":{step}}}\n'
            head = f'{{"type":"route","req_id":{req_txt},"token_idx":{first_pos + j},"layer":'
            ids_r = id_rows[r]
            w_r = w_rows[r]
            for li, lt in enumerate(layer_txt):
                out.append(line_fmt % (head, lt, *ids_r[li], *w_r[li], tail))
        row += num_rows
    return "".join(out)
