#!/usr/bin/env python3
"""Why did `moe-prof run --engine hf --deterministic` single pairs come out at 0.93 and 0.91
(log pass slower) while medians over repeats sit at ~1.0? Measured in ONE process on one GPU,
so that pass order, process start and GPU clocks do not differ between the variants:

  A  the model without capture (what the no-log pass runs)
  B  the same weights with capture (hooks, RouteCapture, writer process)
  B0 B with its writer replaced by one that drops the steps (no writer process CPU, no pipe)

each under torch's deterministic algorithms on and off, generations interleaved (A, B, B0, ...),
then torch.profiler over one short generation of A and of B in deterministic mode: the CUDA
kernels and CPU ops that B adds per decode step.

    python scripts/gpu-hf-overhead.py --config fixtures/models/qwen1.5-moe-a2.7b [--tokenizer DIR]
        [--prompts 25] [--max-tokens 32] [--repeats 3] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from typing import Any

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))

from moe_prof.engines.hf_engine import HFEngine  # noqa: E402
from moe_prof.worker.job import Job  # noqa: E402


class _DropWriter:
    pid = None

    def send_block(self, *args: Any, **kw: Any) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self, timeout: float | None = None) -> str:
        return ""

    def abandon(self) -> None:
        pass


def _job(args: argparse.Namespace, prompts: list[str], routes: str | None) -> Job:
    return Job(
        engine="hf",
        pass_name="log" if routes else "no_log",
        model="random-weights",
        prompts=prompts,
        seed=1234,
        max_tokens=args.max_tokens,
        temperature=0.0,
        routes_path=routes,
        layers=None,
        warmup_prompts=2,
        warmup_max_tokens=8,
        tensor_parallel_size=1,
        gpu_memory_utilization=0.9,
        max_model_len=None,
        enforce_eager=False,
        deterministic=True,
        chat_template=True,
        random_weights=True,
        config_dir=os.path.abspath(args.config),
        tokenizer=args.tokenizer,
        dtype="bfloat16" if args.device == "cuda" else "float32",
        device=args.device,
        engine_args={},
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--tokenizer")
    ap.add_argument("--prompts", type=int, default=25)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=os.environ.get("OUT", "/tmp"))
    ap.add_argument("--device", default="cuda", help="cpu: a dry run of this script with a tiny config")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(ROOT, "fixtures", "gsm8k", "test.jsonl"), encoding="utf-8") as f:
        prompts = [json.loads(line)["question"] for _, line in zip(range(args.prompts), f, strict=False)]
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    a = HFEngine(_job(args, prompts, None))
    b = HFEngine(_job(args, prompts, os.path.join(args.out, "overhead-b.jsonl")))
    b0 = HFEngine(_job(args, prompts, os.path.join(args.out, "overhead-b0.jsonl")))
    assert b0.capture is not None
    b0.capture._writer.abandon()
    b0.capture._writer = _DropWriter()  # type: ignore[assignment]
    tok = a.encode_prompts(prompts, True)
    engines = {"A no capture": a, "B capture": b, "B0 capture, writes dropped": b0}
    for e in (b, b0):
        assert e.route_log is not None
        e.route_log.resume()
    times: dict[tuple[str, bool], list[float]] = {}
    names = list(engines)
    for det in (True, False):
        torch.use_deterministic_algorithms(det, warn_only=True)
        for e in engines.values():  # warm-up per mode, not timed
            e.generate(tok[:2], 4, None)
        for rep in range(args.repeats):
            for name in names[rep % 3 :] + names[: rep % 3]:
                g = engines[name].generate(tok, args.max_tokens, None)
                times.setdefault((name, det), []).append(g.generate_s)
    dev_name = torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu"
    print(
        f"device {dev_name}, torch {torch.__version__}; {args.prompts} prompts x {args.max_tokens} tokens, "
        f"{args.repeats} interleaved repeats; eager experts + eager attention (what --deterministic selects)"
    )
    print(f"{'variant':30s} {'deterministic':>13s} {'generate s (median)':>20s} {'ratio to A':>10s}   all")
    result: dict[str, Any] = {"device": dev_name, "rows": []}
    for det in (True, False):
        base = statistics.median(times[("A no capture", det)])
        for name in names:
            ts = times[(name, det)]
            med = statistics.median(ts)
            print(f"{name:30s} {str(det):>13s} {med:20.3f} {med / base:10.4f}   {', '.join(f'{t:.2f}' for t in ts)}")
            result["rows"].append({"variant": name, "deterministic": det, "generate_s": ts, "ratio": med / base})

    # what B adds per step, by profiler, deterministic on
    torch.use_deterministic_algorithms(True, warn_only=True)
    from torch.profiler import ProfilerActivity, profile

    counts: dict[str, dict[str, tuple[int, float, float]]] = {}
    for name in ("A no capture", "B capture"):
        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if args.device == "cuda" else [])
        with profile(activities=acts) as prof:
            engines[name].generate(tok[:4], 8, None)
        counts[name] = {
            ev.key: (ev.count, ev.self_cpu_time_total, ev.self_device_time_total) for ev in prof.key_averages()
        }
    diff = []
    for key in set(counts["A no capture"]) | set(counts["B capture"]):
        ca = counts["A no capture"].get(key, (0, 0.0, 0.0))
        cb = counts["B capture"].get(key, (0, 0.0, 0.0))
        diff.append((cb[1] - ca[1], cb[2] - ca[2], cb[0] - ca[0], key))
    diff.sort(reverse=True)
    print(
        "\nprofiler, 4 prompts x 8 tokens, deterministic on: ops B adds (self CPU us, self CUDA us, calls), top 15 by CPU"
    )
    for cpu, cuda, calls, key in diff[:15]:
        print(f"  {cpu:10.0f} {cuda:10.0f} {calls:6d}  {key}")
    result["profile_extra_top"] = [{"op": k, "cpu_us": c, "cuda_us": g, "calls": n} for c, g, n, k in diff[:30]]
    with open(os.path.join(args.out, "gpu-hf-overhead.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
    for e in (b, b0):
        assert e.route_log is not None
        e.route_log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
