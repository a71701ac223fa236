#!/usr/bin/env python3
"""The capture's host cost per decode step on the engine's thread, this tree against a git
revision, on a CPU: the glue's attribution of the step's rows (`_segments`), the capture's row
check, and the marshal of the segments the collector thread sends to the writer. A steady decode
batch of N requests (one row each, positions moving on every step), as vLLM's runner holds it.

Usage: python3 scripts/bench-glue-step.py [--rev 5a1ac46] [--requests 25,256] [--steps 3000] [--repeats 3]
Needs numpy; the revision's python/moe_prof comes from `git archive` (no checkout)."""

from __future__ import annotations

import argparse
import importlib
import marshal
import os
import statistics
import subprocess
import sys
import tempfile
import time
import types
from typing import Any

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_glue(python_root: str) -> Any:
    for m in [k for k in sys.modules if k == "moe_prof" or k.startswith("moe_prof.")]:
        del sys.modules[m]
    sys.path.insert(0, python_root)
    try:
        return importlib.import_module("moe_prof.vllm_glue")
    finally:
        sys.path.pop(0)


def step_cost_us(glue: Any, n_req: int, steps: int) -> float:
    ib = types.SimpleNamespace(
        req_ids=[f"{i}-{i * 7919:08x}" for i in range(n_req)],
        num_computed_tokens_cpu=np.zeros(1024, dtype=np.int32),
        num_prompt_tokens=np.zeros(1024, dtype=np.int32),
    )
    ib.num_computed_tokens_cpu[:n_req] = 100
    ib.num_prompt_tokens[:n_req] = 80
    runner = types.SimpleNamespace(input_batch=ib, requests=dict.fromkeys(ib.req_ids, 1))
    session = glue._Session(None)
    scheduled = np.zeros(1024, dtype=np.int32)
    scheduled[:n_req] = 1
    rows = 0
    t = time.perf_counter()
    for step in range(steps):
        session.steps = step
        segs = glue._segments(session, runner, scheduled)
        rows += sum([s[2] for s in segs])  # the capture's check that the segments cover the rows
        try:
            marshal.dumps({"segments": segs})
        except ValueError:  # the revision's Segment objects: converted as its writer client did
            marshal.dumps({"segments": [(s.req_id, s.first_pos, s.num_rows, s.phase) for s in segs]})
        ib.num_computed_tokens_cpu[:n_req] += 1
    dt = time.perf_counter() - t
    assert rows == n_req * steps, (rows, n_req * steps)
    return dt / steps * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rev", default="5a1ac46", help="git revision to compare with (default: before decode runs)")
    ap.add_argument("--requests", default="25,256")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "-C", ROOT, "archive", a.rev, "python/moe_prof"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        trees = {a.rev: os.path.join(tmp, "python"), "this tree": os.path.join(ROOT, "python")}
        print(f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
        res: dict[tuple[str, int], list[float]] = {}
        for _ in range(a.repeats):  # alternated: both trees see the same machine state
            for name, root in trees.items():
                glue = load_glue(root)
                for n in (int(x) for x in a.requests.split(",")):
                    res.setdefault((name, n), []).append(step_cost_us(glue, n, a.steps))
        for n in (int(x) for x in a.requests.split(",")):
            cells = [f"{name} {statistics.median(res[(name, n)]):7.1f} us" for name in trees]
            print(f"{n:5d} requests, decode step: " + ", ".join(cells) + f"  (median of {a.repeats})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
