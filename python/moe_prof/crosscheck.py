"""Comparisons behind scripts/vllm-crosscheck.py: a moe-prof routes log against oracles that do
not share its attribution (numpy + stdlib; no vLLM, no torch).

  against_routed_experts: vLLM's own `CompletionOutput.routed_experts` ([P+G-1, layers, top_k]
      int32 per request, attributed through KV-cache slots): every logged id must be equal, in
      order, at every position and layer it covers.
  between_logs: two moe-prof logs of the same prompts (a CUDA-graph run and an eager run under
      --deterministic): same rows, same ids, bit-identical weights, for requests whose outputs
      agree.
  top1_agreement: a weaker oracle of another engine (transformers on the unquantized
      checkpoint, teacher-forced on vLLM's tokens): the share of rows whose top-1 expert agrees.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .routed_experts import check_routed_experts

Row = tuple[tuple[int, ...], tuple[float, ...]]  # (topk_ids, topk_weights)


@dataclass
class RoutesLog:
    meta: dict[str, Any]
    rows: dict[str, dict[tuple[int, int], Row]]  # req_id -> (token_idx, layer) -> row


def read_log(path: str) -> RoutesLog:
    rows: dict[str, dict[tuple[int, int], Row]] = {}
    with open(path, encoding="utf-8") as f:
        meta = json.loads(f.readline())
        for line in f:
            r = json.loads(line)
            rows.setdefault(r["req_id"], {})[(r["token_idx"], r["layer"])] = (
                tuple(r["topk_ids"]),
                tuple(r["topk_weights"]),
            )
    return RoutesLog(meta, rows)


@dataclass
class Report:
    name: str
    compared: int = 0  # rows compared
    mismatched: int = 0
    missing: int = 0  # rows the oracle has and the log lacks (or the other way round)
    examples: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if len(self.examples) < 10:
            self.examples.append(text)

    @property
    def ok(self) -> bool:
        return self.compared > 0 and self.mismatched == 0 and self.missing == 0

    def line(self) -> str:
        verdict = "PASS" if self.ok else "FAIL"
        return f"{verdict} {self.name}: {self.compared} rows compared, {self.mismatched} differ, {self.missing} missing"


def against_routed_experts(log: RoutesLog, routed: Mapping[str, np.ndarray]) -> Report:
    """routed[req_id]: vLLM's routed_experts, [positions, model layers, top_k], row p = position p."""
    rep = Report("log vs vLLM routed_experts (ids, in order)")
    layers = [int(x) for x in log.meta["layers_logged"]]
    for req, raw in routed.items():
        arr = check_routed_experts(raw, f"request {req}")
        got = log.rows.get(req, {})
        for pos in range(arr.shape[0]):
            for layer in layers:
                row = got.get((pos, layer))
                if row is None:
                    rep.missing += 1
                    rep.note(f"request {req} position {pos} layer {layer}: not in the log")
                    continue
                rep.compared += 1
                want = tuple(int(x) for x in arr[pos, layer])
                if row[0] != want:
                    rep.mismatched += 1
                    rep.note(f"request {req} position {pos} layer {layer}: log {list(row[0])}, vLLM {list(want)}")
    return rep


def between_logs(a: RoutesLog, b: RoutesLog, requests: Iterable[str], name: str) -> Report:
    """Same rows with the same ids and float32-identical weights, over the given requests."""
    rep = Report(name)
    for req in requests:
        ra, rb = a.rows.get(req, {}), b.rows.get(req, {})
        for key in sorted(set(ra) | set(rb)):
            if key not in ra or key not in rb:
                rep.missing += 1
                rep.note(
                    f"request {req} position {key[0]} layer {key[1]}: only in {'the first' if key in ra else 'the second'} log"
                )
                continue
            rep.compared += 1
            (ia, wa), (ib, wb) = ra[key], rb[key]
            if ia != ib or np.float32(wa).tobytes() != np.float32(wb).tobytes():
                rep.mismatched += 1
                rep.note(
                    f"request {req} position {key[0]} layer {key[1]}: {list(ia)} {list(wa)} vs {list(ib)} {list(wb)}"
                )
    return rep


def top1(row: Row) -> int:
    """The id with the largest weight (the first of equal weights), as `moe-prof hist` defines it."""
    ids, weights = row
    return ids[int(np.argmax(np.asarray(weights, dtype=np.float32)))]


def top1_agreement(log: RoutesLog, reference: Mapping[str, np.ndarray]) -> tuple[int, int]:
    """reference[req_id]: the other engine's top-1 expert, [positions, model layers]. Returns
    (agreeing rows, rows compared)."""
    agree = total = 0
    for req, arr in reference.items():
        for (pos, layer), row in log.rows.get(req, {}).items():
            if pos < arr.shape[0]:
                total += 1
                agree += int(top1(row) == int(arr[pos, layer]))
    return agree, total
