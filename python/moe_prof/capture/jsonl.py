"""Route and meta lines of `moe_routes.jsonl` from plain numpy arrays.

Standalone on purpose (stdlib + numpy, no package-relative imports): the writer process loads
this file by path, without importing the package that holds it (inside vLLM that would import
vLLM itself)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence

import numpy as np

SCHEMA_VERSION = 1
# Rows of a segment with this phase were computed again (a preempted request's recompute) and
# were logged the first time: the writer skips them, so every position is logged once.
RECOMPUTED = "recomputed"
# Processes that format a JSONL log's lines in parallel, inside the writer: one CPython thread
# formats ~0.3M lines/s on a slow core and a serving engine at 256 sequences produces ~0.75M/s
# (H200, 1,024 requests: the single formatter fell behind, 27 stalls).
FORMAT_PROCS_ENV = "VLLM_LOG_MOE_FORMAT_PROCS"
FORMAT_PROCS_MAX = 64


def usable_cores() -> int | None:
    """Cores this process may run on (a container's or taskset's CPU set), else all of them."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count()


def format_procs(environ: Mapping[str, str], cpu_count: int | None) -> int:
    """How many processes format JSONL lines: VLLM_LOG_MOE_FORMAT_PROCS, or a quarter of the
    cores (at most 4; the engine and its API server need the rest). 0 or 1: the writer formats
    on its own thread. ValueError names the variable."""
    raw = environ.get(FORMAT_PROCS_ENV, "").strip()
    if not raw:
        return min(4, (cpu_count or 1) // 4)
    if not raw.isdigit() or int(raw) > FORMAT_PROCS_MAX:
        raise ValueError(f"{FORMAT_PROCS_ENV}: {raw!r} is not a whole number from 0 to {FORMAT_PROCS_MAX}")
    return int(raw)


def split_rows(
    segments: Sequence[tuple[str, int, int, str]], rows_per_chunk: int
) -> list[tuple[int, int, list[tuple[str, int, int, str]]]]:
    """A step's segments cut into chunks of at most `rows_per_chunk` rows, in order, as
    (first row, end row, segments): a long prefill segment is cut at row boundaries, its parts
    keeping their positions. Formatting the chunks and joining them gives the step's lines."""
    out: list[tuple[int, int, list[tuple[str, int, int, str]]]] = []
    cur: list[tuple[str, int, int, str]] = []
    start = rows = 0
    for req_id, first_pos, num_rows, phase in segments:
        while num_rows > 0:
            take = min(num_rows, rows_per_chunk - rows)
            cur.append((req_id, first_pos, take, phase))
            first_pos, num_rows, rows = first_pos + take, num_rows - take, rows + take
            if rows == rows_per_chunk:
                out.append((start, start + rows, cur))
                start, rows, cur = start + rows, 0, []
    if cur:
        out.append((start, start + rows, cur))
    return out


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
