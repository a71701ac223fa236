"""Attribution of a step's rows to requests and positions (pure Python + numpy)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

PHASES = ("prefill", "decode")


class Segment(NamedTuple):
    """One request's slice of a step's rows, in batch order. A NamedTuple (immutable, like a
    frozen dataclass) because the runner builds one per request per step on the engine thread,
    where a frozen dataclass's __init__ costs several times more."""

    req_id: str  # user-facing request id (prompt index for LLM.generate)
    first_pos: int  # token_idx of the segment's first row
    num_rows: int
    phase: str  # "prefill" | "decode" (checked by the writer)


def user_request_id(internal_id: str) -> str:
    """vLLM's internal id `"<user id>-<8 random chars>"` -> the user's id (the prompt index for
    offline `LLM.generate`)."""
    head, sep, _tail = internal_id.rpartition("-")
    return head if sep else internal_id


def shift_request_id(user_id: str, offset: int) -> str:
    """Numeric ids minus `offset`: warm-up requests made before logging consumed prompt indices
    (vLLM's counter is never reset), so the measured pass's first prompt is logged as "0"."""
    if offset and user_id.isdigit():
        return str(int(user_id) - offset)
    return user_id


def split_by_phase(req_id: str, first_pos: int, num_rows: int, num_prompt_tokens: int) -> list[Segment]:
    """Rows at positions < prompt length are prefill, the rest decode (a preempted request's
    recompute can straddle the boundary, so one scheduled chunk may give two segments)."""
    out: list[Segment] = []
    end = first_pos + num_rows
    if first_pos < num_prompt_tokens:
        n = min(end, num_prompt_tokens) - first_pos
        out.append(Segment(req_id, first_pos, n, "prefill"))
    if end > num_prompt_tokens:
        start = max(first_pos, num_prompt_tokens)
        out.append(Segment(req_id, start, end - start, "decode"))
    return out


def expand_segments(segments: Sequence[Segment]) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Per-row columns: (distinct req ids, req index per row, token_idx per row, phase index per row)."""
    names: list[str] = []
    index: dict[str, int] = {}
    n = sum(s.num_rows for s in segments)
    req = np.empty(n, dtype=np.int32)
    pos = np.empty(n, dtype=np.int64)
    phase = np.empty(n, dtype=np.int8)
    row = 0
    for s in segments:
        k = index.setdefault(s.req_id, len(names))
        if k == len(names):
            names.append(s.req_id)
        req[row : row + s.num_rows] = k
        pos[row : row + s.num_rows] = np.arange(s.first_pos, s.first_pos + s.num_rows)
        phase[row : row + s.num_rows] = PHASES.index(s.phase)
        row += s.num_rows
    return names, req, pos, phase
