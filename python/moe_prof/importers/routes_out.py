"""Writes an imported routes log: the meta line, then one route row per (token, layer), to a
temporary file beside the output that replaces it only when complete."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class Row:
    req_id: str
    token_idx: int
    layer: int
    topk_ids: Sequence[int]
    step: int | None = None
    phase: str | None = None
    token_id: int | None = None


def imported_meta(
    *,
    imported_from: str,
    model_id: str,
    engine: str,
    layers: Sequence[int],
    top_k: int,
    num_experts: int | None,
    num_layers: int | None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The meta line of an imported log. What the capture did not record is "unknown" (seed -1)."""
    meta: dict[str, Any] = {
        "type": "meta",
        "model_id": model_id,
        "vllm_version": "unknown",
        "torch_version": "unknown",
        "device": "unknown",
        "seed": -1,
        "layers_logged": [int(x) for x in layers],
        "top_k": int(top_k),
        "engine": engine,
        "weights_logged": False,
        "imported_from": imported_from,
    }
    if num_experts is not None:
        meta["num_experts"] = int(num_experts)
    if num_layers is not None:
        meta["num_layers"] = int(num_layers)
    meta.update(extra or {})
    return meta


def write_routes(path: str, meta: dict[str, Any], rows: Iterable[Row]) -> int:
    """Writes the log atomically; returns the rows written."""
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.{os.getpid()}.tmp")
    n = 0
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(json.dumps(meta, separators=(",", ":")) + "\n")
            for r in rows:
                o: dict[str, Any] = {
                    "type": "route",
                    "req_id": r.req_id,
                    "token_idx": int(r.token_idx),
                    "layer": int(r.layer),
                    "topk_ids": [int(x) for x in r.topk_ids],
                }
                if r.phase is not None:
                    o["phase"] = r.phase
                if r.token_id is not None:
                    o["token_id"] = int(r.token_id)
                if r.step is not None:
                    o["step"] = int(r.step)
                f.write(json.dumps(o, separators=(",", ":")) + "\n")
                n += 1
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return n
