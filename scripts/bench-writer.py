#!/usr/bin/env python3
"""The capture's writer process on its own, on a CPU: the sustained rate at which it turns raw step
blocks into a routes log, per format (JSONL, Parquet, both), at serving-scale steps.

The engine side is what RouteCapture's collector thread does: WriterClient.send_block of an int32
[rows, layers, 2*top_k] block (ids | float32 weight bits) plus token ids, step after step, as fast
as the pipe takes them; then close() waits until the file is complete (fsynced and renamed). So the
time measured is the writer's: formatting, encoding and writing. Lines = rows x logged layers
(a JSONL line, a Parquet row).

Usage: python3 scripts/bench-writer.py [--rows 256] [--steps 400] [--layers 24] [--top-k 4]
       [--formats jsonl,parquet,both] [--format-procs 0,4] [--repeats 3] [--out DIR]
(--format-procs: JSONL formatter processes, VLLM_LOG_MOE_FORMAT_PROCS; variants named jsonl/p4.)
Needs numpy only (PYTHONPATH is set from this file's location)."""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from moe_prof.capture import Segment
from moe_prof.capture.jsonl import FORMAT_PROCS_ENV, format_meta
from moe_prof.capture.writer_client import WriterClient


def run(variant: str, out_dir: str, rows: int, steps: int, layers: int, k: int, experts: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    ids = (
        np.stack([np.argsort(rng.random((rows, layers, experts)), axis=-1)[..., :k]])
        .reshape(rows, layers, k)
        .astype(np.int32)
    )
    w = rng.random((rows, layers, k), dtype=np.float32)
    block = np.ascontiguousarray(np.concatenate([ids, w.view(np.int32)], axis=2))
    tokens = rng.integers(0, 151936, size=rows, dtype=np.int64)
    meta = format_meta(
        {
            "model_id": "bench",
            "vllm_version": "none",
            "torch_version": "none",
            "device": "cpu",
            "seed": 0,
            "num_experts": experts,
            "layers_logged": list(range(layers)),
            "top_k": k,
        }
    )
    fmt, _, procs = variant.partition("/p")
    path = os.path.join(out_dir, f"bench-{fmt}.jsonl")
    os.environ[FORMAT_PROCS_ENV] = procs or "0"  # the writer process reads it
    client = WriterClient(path, meta, fmt)
    t0 = time.perf_counter()
    send = 0.0
    for step in range(steps):
        # a decode step: one row per running sequence, request ids as vLLM's runner gives them
        segs = [Segment(str(i), 1000 + step, 1, "decode") for i in range(rows)]
        s0 = time.perf_counter()
        client.send_block(step, segs, list(range(layers)), block, tokens)
        send += time.perf_counter() - s0
    sent = time.perf_counter() - t0
    client.close()
    wall = time.perf_counter() - t0
    sizes = sum(os.path.getsize(p) for p in client.out_paths)
    lines = rows * steps * layers
    return {
        "wall_s": wall,
        "send_s": send,
        "sent_s": sent,
        "lines": lines,
        "lines_per_s": lines / wall,
        "rows_per_s": rows * steps / wall,
        "bytes": sizes,
        "send_us_per_step": send / steps * 1e6,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=256, help="rows (sequences) per decode step")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--layers", type=int, default=24)
    ap.add_argument("--top-k", type=int, default=4)
    ap.add_argument("--experts", type=int, default=60)
    ap.add_argument("--formats", default="jsonl,parquet,both")
    ap.add_argument(
        "--format-procs",
        default="0",
        help="JSONL formatter processes to compare, e.g. 0,2,4 (VLLM_LOG_MOE_FORMAT_PROCS; 0: the writer's own thread)",
    )
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", help="directory for the logs (default: a temp dir, removed)")
    a = ap.parse_args()
    out = a.out or tempfile.mkdtemp(prefix="moe-prof-bench-writer-")
    os.makedirs(out, exist_ok=True)
    print(
        f"date {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}, python {sys.version.split()[0]}, numpy {np.__version__}"
    )
    print(
        f"{a.steps} decode steps of {a.rows} rows x {a.layers} layers, top-{a.top_k} of {a.experts}: "
        f"{a.rows * a.steps * a.layers:,} lines per run; {a.repeats} runs per format, interleaved"
    )
    procs = a.format_procs.split(",")
    fmts = [f"{f}/p{p}" if f != "parquet" and p != "0" else f for f in a.formats.split(",") for p in procs]
    fmts = list(dict.fromkeys(fmts))
    res: dict[str, list[dict[str, float]]] = {f: [] for f in fmts}
    try:
        for rep in range(a.repeats):
            for f in fmts[rep % len(fmts) :] + fmts[: rep % len(fmts)]:
                r = run(f, out, a.rows, a.steps, a.layers, a.top_k, a.experts)
                res[f].append(r)
                print(
                    f"  run {rep + 1} {f:8s} {r['wall_s']:6.2f} s  {r['lines_per_s'] / 1e6:5.2f} M lines/s  "
                    f"send {r['send_us_per_step']:6.1f} us/step  {r['bytes'] / 1e6:7.1f} MB  (load {os.getloadavg()[0]:.2f})"
                )
        print(f"\n{'format':8s} {'lines/s (median, min-max)':>30s} {'rows/s':>12s} {'bytes/line':>11s} {'steps/s':>9s}")
        for f in fmts:
            ls = [r["lines_per_s"] for r in res[f]]
            med = statistics.median(ls)
            print(
                f"{f:8s} {med / 1e6:10.2f} M ({min(ls) / 1e6:.2f}-{max(ls) / 1e6:.2f}) {med / a.layers / 1e3:10.0f} k "
                f"{res[f][0]['bytes'] / res[f][0]['lines']:11.1f} {med / a.layers / a.rows:9.0f}"
            )
    finally:
        if not a.out:
            shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
