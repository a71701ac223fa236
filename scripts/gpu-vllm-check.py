#!/usr/bin/env python3
"""The patched vLLM 0.20.2 engine on a GPU, checked against vLLM's own routed-experts capture and
timed against it. For a GPU host whose Python has vllm==0.20.2 with the moe-prof patch applied
(`moe-prof setup --vllm 0.20.2`, or the offline bundle: scripts/pack-vllm-bundle.py):

    python3 scripts/gpu-vllm-check.py --out DIR --model DIR_OR_ID [--load-format dummy] PART...

PART (each engine is a fresh process; default settings are vLLM's: CUDA graphs, async scheduling):
  crosscheck    25 GSM8K prompts x 256 tokens, then 1,024 prompts x 64 tokens (max_num_seqs 256),
                logged by moe-prof AND captured by vLLM (`enable_return_routed_experts`) in the same
                run: every (request, position, layer) vLLM returns must be in the log with the same
                ids in the same order; every row's token_id must be the token at that position
                (read on the GPU: under async scheduling the host copy holds placeholders).
  deterministic eager vs CUDA-graph logs under vLLM's batch-invariant mode: same rows, same ids,
                bit-identical weights for requests whose outputs agree.
  overhead      three engines alive at once in one process (no log, moe-prof, vLLM's routed-experts
                capture) and four arms (moe-prof's twice: capture paused, i.e. its copies in the
                graphs and nothing on the host, and logging), then MOE_PROF_OVERHEAD_ROUNDS (5)
                rounds, each running every workload on every arm in a rotating order: 25 requests x 256 tokens, 1,024 requests x 128
                tokens (max_num_seqs 256), the prefill alone (1,024 prompts, 1 token), ignore_eos;
                ratios to no log taken within each round (median, min-max).
Writes DIR/<part>.json and prints one line per check (PASS/FAIL) or table row; exit 1 if a check fails.
The comparisons are python/moe_prof/crosscheck.py (tested on recorded data in python/tests).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))


def _questions(n: int) -> list[str]:
    with open(os.path.join(ROOT, "fixtures", "gsm8k", "test.jsonl"), encoding="utf-8") as f:
        qs = [json.loads(line)["question"] for line in f]
    return [qs[i % len(qs)] for i in range(n)]


# ---- child: one engine ---------------------------------------------------------------------
def engine_kwargs(spec: dict[str, Any], gpu_memory_utilization: float, routed_experts: bool) -> dict[str, Any]:
    """The settings every engine of this script shares (prefix caching off: every position is computed)."""
    kwargs: dict[str, Any] = dict(
        model=spec["model"],
        seed=1234,
        enable_prefix_caching=False,
        max_num_seqs=int(spec.get("max_num_seqs", 256)),
        gpu_memory_utilization=gpu_memory_utilization,
        max_model_len=2048,
        enable_return_routed_experts=routed_experts,
    )
    if spec.get("load_format"):
        kwargs["load_format"] = spec["load_format"]
    return kwargs


def chat_prompts(tok: Any, n: int) -> list[dict[str, list[int]]]:
    """The first n GSM8K questions (cycled) as `moe-prof run` sends them: chat template, token ids."""
    from moe_prof.engines.chat import encode_messages

    return [{"prompt_token_ids": p} for p in encode_messages(tok, _questions(n), True)]


def run_engine(spec: dict[str, Any]) -> dict[str, Any]:
    mode = spec["mode"]  # nolog | log | vllm | both
    if mode in ("log", "both"):
        os.environ["VLLM_LOG_MOE"] = spec["log"]
    if spec.get("deterministic"):
        os.environ["VLLM_BATCH_INVARIANT"] = "1"
    from vllm import LLM, SamplingParams

    t0 = time.perf_counter()
    kwargs = engine_kwargs(spec, 0.85, routed_experts=mode in ("vllm", "both"))
    kwargs["enforce_eager"] = bool(spec.get("eager"))
    if spec.get("deterministic"):
        kwargs["attention_backend"] = "FLASH_ATTN"
    if spec.get("graphs_without_compile"):  # CUDA graphs of the eager kernels: no inductor fusion
        kwargs["compilation_config"] = {"mode": 0, "cudagraph_mode": "FULL"}
    llm = LLM(**kwargs)
    load_s = time.perf_counter() - t0
    tok = llm.get_tokenizer()
    cfg = llm.llm_engine.vllm_config
    out: dict[str, Any] = {
        "mode": mode,
        "load_s": round(load_s, 1),
        "cudagraph_mode": str(cfg.compilation_config.cudagraph_mode),
        "async_scheduling": bool(cfg.scheduler_config.async_scheduling),
        "quantization": cfg.model_config.quantization,
        "runs": [],
    }

    for run in spec["runs"]:
        prompts = chat_prompts(tok, int(run["prompts"]))
        params = SamplingParams(
            temperature=0, max_tokens=int(run["max_tokens"]), ignore_eos=bool(run.get("ignore_eos"))
        )
        times: list[float] = []
        outs: Any = None
        for _ in range(int(run.get("repeats", 1))):
            torch_sync()
            t = time.perf_counter()
            outs = llm.generate(prompts, params, use_tqdm=False)
            torch_sync()
            times.append(time.perf_counter() - t)
        assert outs is not None
        gen = sum(len(o.outputs[0].token_ids) for o in outs)
        rec: dict[str, Any] = {
            "name": run["name"],
            "requests": len(prompts),
            "output_tokens": gen,
            "generate_s": [round(x, 4) for x in times],
            "tokens_per_s": [round(gen / x, 1) for x in times],
        }
        if run.get("keep"):
            import numpy as np

            base = os.path.join(spec["dir"], f"{spec['name']}-{run['name']}")
            seqs = {str(i): list(o.prompt_token_ids or []) + list(o.outputs[0].token_ids) for i, o in enumerate(outs)}
            with open(base + ".seqs.json", "w", encoding="utf-8") as f:
                json.dump({"seqs": seqs, "finish": [o.outputs[0].finish_reason for o in outs]}, f)
            if mode in ("vllm", "both"):
                np.savez(
                    base + ".routed.npz",
                    **{str(i): np.asarray(o.outputs[0].routed_experts) for i, o in enumerate(outs)},
                )
        out["runs"].append(rec)
    if mode in ("log", "both"):
        out["capture"] = llm.collective_rpc("moe_prof_control", args=("close",))
    return out


def torch_sync() -> None:
    import torch

    torch.cuda.synchronize()


def _child(spec: dict[str, Any], flag: str = "--engine") -> dict[str, Any]:
    path = os.path.join(spec["dir"], f"{spec['name']}.spec.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(spec, f)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [os.path.join(ROOT, "python"), os.environ.get("PYTHONPATH")])),
    }
    env.pop("VLLM_LOG_MOE", None)
    t = time.perf_counter()
    r = subprocess.run([sys.executable, __file__, flag, path], env=env, capture_output=True, text=True)
    with open(os.path.join(spec["dir"], f"{spec['name']}.log"), "w", encoding="utf-8") as f:
        f.write(r.stderr)
    if r.returncode != 0:
        tail = "\n".join(r.stderr.strip().splitlines()[-25:])
        raise SystemExit(f"gpu-vllm-check: engine {spec['name']} failed:\n{tail}")
    res = json.loads(r.stdout.strip().splitlines()[-1])
    res["process_s"] = round(time.perf_counter() - t, 1)
    print(
        f"  [{spec['name']}: {res['process_s']} s, load {res['load_s']} s, {res.get('cudagraph_mode', '')}]", flush=True
    )
    return res


# ---- parts ------------------------------------------------------------------------------------
def _read_seqs(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        d: dict[str, Any] = json.load(f)
    return d


def _token_ids_report(log: Any, seqs: dict[str, list[int]]) -> tuple[int, int, list[str]]:
    """Rows whose token_id is not the token at their position (checked on the raw log)."""
    bad, total, examples = 0, 0, []
    with open(log, encoding="utf-8") as f:
        next(f)
        for line in f:
            r = json.loads(line)
            seq = seqs[r["req_id"]]
            total += 1
            if r["token_id"] != seq[r["token_idx"]]:
                bad += 1
                if len(examples) < 5:
                    examples.append(
                        f"{r['req_id']}/{r['token_idx']}: token_id {r['token_id']}, sequence {seq[r['token_idx']]}"
                    )
    return bad, total, examples


def part_crosscheck(base: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    import numpy as np
    from moe_prof.crosscheck import against_routed_experts, read_log

    spec = {
        **base,
        "name": "crosscheck",
        "mode": "both",
        "log": os.path.join(base["dir"], "crosscheck.jsonl"),
        "runs": [
            {"name": "r25", "prompts": 25, "max_tokens": 256, "keep": True},
            {"name": "r1024", "prompts": 1024, "max_tokens": 64, "keep": True},
        ],
    }
    res = _child(spec)
    log = read_log(spec["log"])
    report: dict[str, Any] = {"engine": res, "checks": []}
    ok = True
    offset = 0
    for run in spec["runs"]:
        stem = os.path.join(base["dir"], f"crosscheck-{run['name']}")
        routed_raw = np.load(stem + ".routed.npz")
        seqs = _read_seqs(stem + ".seqs.json")["seqs"]
        # one engine, two generate() calls: vLLM's request counter goes on (25 then 26..1049)
        routed = {str(int(k) + offset): routed_raw[k] for k in routed_raw.files}
        shifted = {str(int(k) + offset): v for k, v in seqs.items()}
        offset += len(seqs)
        rep = against_routed_experts(log, routed)
        rep.name = f"{run['name']}: log vs vLLM 0.20.2 routed_experts (ids, in order)"
        print(rep.line(), flush=True)
        for e in rep.examples[:3]:
            print(f"  {e}")
        ok &= rep.ok
        report["checks"].append(
            {
                "name": rep.name,
                "ok": rep.ok,
                "compared": rep.compared,
                "mismatched": rep.mismatched,
                "missing": rep.missing,
                "examples": rep.examples,
            }
        )
        report.setdefault("sequences", {}).update(shifted)
    bad, total, ex = _token_ids_report(spec["log"], report.pop("sequences"))
    line = f"{'PASS' if bad == 0 and total else 'FAIL'} every row's token_id is the token at its position: {total} rows, {bad} differ"
    print(line, flush=True)
    for e in ex[:3]:
        print(f"  {e}")
    ok &= bad == 0 and total > 0
    report["checks"].append(
        {"name": "token_id", "ok": bad == 0 and total > 0, "rows": total, "differ": bad, "examples": ex}
    )
    return report, ok


def part_deterministic(base: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    from moe_prof.crosscheck import between_logs, read_log

    res = {}
    nocompile = os.environ.get("MOE_PROF_GRAPHS_WITHOUT_COMPILE") == "1"
    for eager in (False, True):
        name = "det-eager" if eager else "det-graphs"
        spec = {
            **base,
            "name": name,
            "mode": "log",
            "eager": eager,
            "graphs_without_compile": nocompile and not eager,
            "deterministic": True,
            "log": os.path.join(base["dir"], f"{name}.jsonl"),
            "runs": [{"name": "r25", "prompts": 25, "max_tokens": 64, "keep": True}],
        }
        res[name] = _child(spec)
    a = _read_seqs(os.path.join(base["dir"], "det-graphs-r25.seqs.json"))["seqs"]
    b = _read_seqs(os.path.join(base["dir"], "det-eager-r25.seqs.json"))["seqs"]
    same = [k for k in a if a[k] == b.get(k)]
    rep = between_logs(
        read_log(os.path.join(base["dir"], "det-graphs.jsonl")),
        read_log(os.path.join(base["dir"], "det-eager.jsonl")),
        same,
        "CUDA-graph log vs eager log under batch invariance",
    )
    print(rep.line() + f" ({len(same)} of {len(a)} requests generated identical tokens)", flush=True)
    for e in rep.examples[:3]:
        print(f"  {e}")
    return {
        "engines": res,
        "identical_outputs": len(same),
        "requests": len(a),
        "check": {
            "ok": rep.ok,
            "compared": rep.compared,
            "mismatched": rep.mismatched,
            "missing": rep.missing,
            "examples": rep.examples,
        },
    }, rep.ok


# ---- overhead: three engines in one process, the workloads alternated between them -----------
# Arms: (engine, moe-prof capture state). "paused" is the moe-prof engine with its capture paused:
# its copies still run inside the CUDA graphs, its host side does nothing: the kernels' cost alone.
OVERHEAD_ARMS = {
    "nolog": ("nolog", None),
    "paused": ("moe-prof", "pause"),
    "log": ("moe-prof", "resume"),
    "vllm": ("vllm", None),
}
OVERHEAD_WORKLOADS = [
    {"name": "r25x256", "prompts": 25, "max_tokens": 256},
    {"name": "r1024x128", "prompts": 1024, "max_tokens": 128},
    {"name": "prefill1024", "prompts": 1024, "max_tokens": 1},
]


def run_alternated(spec: dict[str, Any]) -> dict[str, Any]:
    """Three engines alive at once in this process (no log, moe-prof, vLLM's capture; each its
    own engine-core process, started by spawn so that only moe-prof's reads VLLM_LOG_MOE), then
    round after round each workload on every arm in a rotating order: arms see the same machine
    state, and ratios are taken within a round (one process against another differed by up to
    24% at 25 requests). Each engine gets 0.3 of the GPU's memory: three fit an 80 GB card."""
    os.environ["VLLM_WORKER_MULTIPROC_METHOD"] = "spawn"
    from vllm import LLM, SamplingParams

    engines: dict[str, Any] = {}
    load_s: dict[str, float] = {}
    for name in ("nolog", "moe-prof", "vllm"):
        if name == "moe-prof":
            os.environ["VLLM_LOG_MOE"] = os.path.join(spec["dir"], "overhead.jsonl")
        t0 = time.perf_counter()
        engines[name] = LLM(**engine_kwargs(spec, 0.3, routed_experts=name == "vllm"))
        load_s[name] = round(time.perf_counter() - t0, 1)
        os.environ.pop("VLLM_LOG_MOE", None)
        print(f"  [engine {name}: {load_s[name]} s]", file=sys.stderr, flush=True)
    tok = engines["nolog"].get_tokenizer()
    prompts = {w["name"]: chat_prompts(tok, w["prompts"]) for w in OVERHEAD_WORKLOADS}
    warm = chat_prompts(tok, 64)
    for llm in engines.values():
        llm.generate(warm, SamplingParams(temperature=0, max_tokens=32, ignore_eos=True), use_tqdm=False)
    arms = list(OVERHEAD_ARMS)
    times: dict[str, dict[str, list[float]]] = {w["name"]: {a: [] for a in arms} for w in OVERHEAD_WORKLOADS}
    tokens: dict[str, int] = {}
    for rnd in range(int(spec["rounds"])):
        order = arms[rnd % len(arms) :] + arms[: rnd % len(arms)]
        for w in OVERHEAD_WORKLOADS:
            params = SamplingParams(temperature=0, max_tokens=w["max_tokens"], ignore_eos=True)
            for arm in order:
                engine, action = OVERHEAD_ARMS[arm]
                if action is not None:
                    engines[engine].collective_rpc("moe_prof_control", args=(action,))
                torch_sync()
                t = time.perf_counter()
                outs = engines[engine].generate(prompts[w["name"]], params, use_tqdm=False)
                torch_sync()
                times[w["name"]][arm].append(time.perf_counter() - t)
                tokens[w["name"]] = sum(len(o.outputs[0].token_ids) for o in outs)
        print(f"  [round {rnd + 1} done]", file=sys.stderr, flush=True)
    return {
        "load_s": load_s,
        "times": times,
        "tokens": tokens,
        "order": "rotating",
        "capture": engines["moe-prof"].collective_rpc("moe_prof_control", args=("close",)),
    }


def _ratio_summary(base_t: list[float], other_t: list[float]) -> dict[str, float]:
    """Per-round ratios of throughput (base time / time), median and range."""
    r = [b / o for b, o in zip(base_t, other_t, strict=True)]
    return {"median": round(statistics.median(r), 4), "min": round(min(r), 4), "max": round(max(r), 4)}


def part_overhead(base: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    spec = {**base, "name": "overhead", "rounds": int(os.environ.get("MOE_PROF_OVERHEAD_ROUNDS", "5"))}
    res = _child(spec, "--engines")
    arms = list(OVERHEAD_ARMS)
    table: dict[str, Any] = {}
    print(f"{'workload':<12} {'no log':>14}  " + "  ".join(f"{a + ' / no log':>22}" for a in arms[1:]))
    for w in OVERHEAD_WORKLOADS:
        t = res["times"][w["name"]]
        n_tok = res["tokens"][w["name"]]
        row: dict[str, Any] = {"tokens": n_tok, "nolog_tok_s": round(n_tok / statistics.median(t["nolog"]), 1)}
        cells = []
        for arm in arms[1:]:
            row[arm] = _ratio_summary(t["nolog"], t[arm])
            row[f"{arm}_tok_s"] = round(n_tok / statistics.median(t[arm]), 1)
            cells.append(f"{row[arm]['median']:.4f} ({row[arm]['min']:.3f}-{row[arm]['max']:.3f})")
        table[w["name"]] = row
        print(f"{w['name']:<12} {row['nolog_tok_s']:>10.0f} t/s  " + "  ".join(f"{c:>22}" for c in cells))
    print(f"capture: {json.dumps(res['capture'])}")
    return {"engines": res, "table": table}, True


PARTS = {"crosscheck": part_crosscheck, "deterministic": part_deterministic, "overhead": part_overhead}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("parts", nargs="*", help=", ".join(sorted(PARTS)))
    ap.add_argument("--out")
    ap.add_argument("--model")
    ap.add_argument("--load-format")
    ap.add_argument("--engine", help=argparse.SUPPRESS)
    ap.add_argument("--engines", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.engine or args.engines:
        with open(args.engine or args.engines, encoding="utf-8") as f:
            spec = json.load(f)
        print(json.dumps(run_engine(spec) if args.engine else run_alternated(spec)))
        return 0
    if not args.out or not args.model or not args.parts or not set(args.parts) <= set(PARTS):
        ap.error(f"--out, --model and one or more of {', '.join(sorted(PARTS))} are required")
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    base = {"dir": out, "model": args.model, "load_format": args.load_format}
    ok = True
    for part in args.parts:
        report, passed = PARTS[part](base)
        with open(os.path.join(out, f"{part}.json"), "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)
        ok &= passed
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
