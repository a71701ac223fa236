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
  overhead      no log / moe-prof log / vLLM's routed-experts capture, one process each, in turn,
                each timing 3 generations (after a warm-up) at 25 requests x 256 tokens and at 1,024
                requests x 128 tokens (max_num_seqs 256), ignore_eos; and the prefill alone (1,024
                prompts, 1 token): tokens/s and ratios to no log.
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
def run_engine(spec: dict[str, Any]) -> dict[str, Any]:
    mode = spec["mode"]  # nolog | log | vllm | both
    if mode in ("log", "both"):
        os.environ["VLLM_LOG_MOE"] = spec["log"]
    if spec.get("deterministic"):
        os.environ["VLLM_BATCH_INVARIANT"] = "1"
    from vllm import LLM, SamplingParams

    t0 = time.perf_counter()
    kwargs: dict[str, Any] = dict(
        model=spec["model"],
        seed=1234,
        enforce_eager=bool(spec.get("eager")),
        enable_prefix_caching=False,
        max_num_seqs=int(spec.get("max_num_seqs", 256)),
        gpu_memory_utilization=0.85,
        max_model_len=2048,
    )
    if spec.get("load_format"):
        kwargs["load_format"] = spec["load_format"]
    if mode in ("vllm", "both"):
        kwargs["enable_return_routed_experts"] = True
    if spec.get("deterministic"):
        kwargs["attention_backend"] = "FLASH_ATTN"
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

    def encode(n: int) -> list[list[int]]:
        from moe_prof.engines.chat import encode_messages  # what `moe-prof run` sends

        return encode_messages(tok, _questions(n), True)

    for run in spec["runs"]:
        prompts = [{"prompt_token_ids": p} for p in encode(int(run["prompts"]))]
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


def _child(spec: dict[str, Any]) -> dict[str, Any]:
    path = os.path.join(spec["dir"], f"{spec['name']}.spec.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(spec, f)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [os.path.join(ROOT, "python"), os.environ.get("PYTHONPATH")])),
    }
    env.pop("VLLM_LOG_MOE", None)
    t = time.perf_counter()
    r = subprocess.run([sys.executable, __file__, "--engine", path], env=env, capture_output=True, text=True)
    with open(os.path.join(spec["dir"], f"{spec['name']}.log"), "w", encoding="utf-8") as f:
        f.write(r.stderr)
    if r.returncode != 0:
        tail = "\n".join(r.stderr.strip().splitlines()[-25:])
        raise SystemExit(f"gpu-vllm-check: engine {spec['name']} failed:\n{tail}")
    res = json.loads(r.stdout.strip().splitlines()[-1])
    res["process_s"] = round(time.perf_counter() - t, 1)
    print(f"  [{spec['name']}: {res['process_s']} s, load {res['load_s']} s, {res['cudagraph_mode']}]", flush=True)
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
    for eager in (False, True):
        name = "det-eager" if eager else "det-graphs"
        spec = {
            **base,
            "name": name,
            "mode": "log",
            "eager": eager,
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


def part_overhead(base: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    runs = [
        {"name": "warmup", "prompts": 64, "max_tokens": 32, "ignore_eos": True},
        {"name": "r25x256", "prompts": 25, "max_tokens": 256, "ignore_eos": True, "repeats": 3},
        {"name": "r1024x128", "prompts": 1024, "max_tokens": 128, "ignore_eos": True, "repeats": 3},
        {"name": "prefill1024", "prompts": 1024, "max_tokens": 1, "ignore_eos": True, "repeats": 3},
    ]
    res: dict[str, Any] = {}
    for mode in ("nolog", "log", "vllm"):
        spec = {
            **base,
            "name": f"overhead-{mode}",
            "mode": mode,
            "runs": runs,
            "log": os.path.join(base["dir"], "overhead.jsonl"),
        }
        if mode == "log":
            os.environ.setdefault("VLLM_LOG_MOE_FORMAT", "jsonl")
        res[mode] = _child(spec)
    table: dict[str, Any] = {}
    print(f"{'run':<12} {'no log tok/s':>13} {'moe-prof':>10} {'ratio':>7} {'vLLM capture':>13} {'ratio':>7}")
    for name in ("r25x256", "r1024x128", "prefill1024"):
        med = {}
        for mode in ("nolog", "log", "vllm"):
            r = next(x for x in res[mode]["runs"] if x["name"] == name)
            med[mode] = (
                statistics.median(r["tokens_per_s"]) if name != "prefill1024" else statistics.median(r["generate_s"])
            )
        if name == "prefill1024":  # time, not tokens/s: ratio is no-log time / time
            row = {m: med[m] for m in med}
            row["log_ratio"] = round(med["nolog"] / med["log"], 4)
            row["vllm_ratio"] = round(med["nolog"] / med["vllm"], 4)
            print(
                f"{name:<12} {med['nolog']:>11.3f} s {med['log']:>8.3f} s {row['log_ratio']:>7.4f} {med['vllm']:>11.3f} s {row['vllm_ratio']:>7.4f}"
            )
        else:
            row = {m: med[m] for m in med}
            row["log_ratio"] = round(med["log"] / med["nolog"], 4)
            row["vllm_ratio"] = round(med["vllm"] / med["nolog"], 4)
            print(
                f"{name:<12} {med['nolog']:>13.0f} {med['log']:>10.0f} {row['log_ratio']:>7.4f} {med['vllm']:>13.0f} {row['vllm_ratio']:>7.4f}"
            )
        table[name] = row
    return {"engines": res, "table": table}, True


PARTS = {"crosscheck": part_crosscheck, "deterministic": part_deterministic, "overhead": part_overhead}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("parts", nargs="*", help=", ".join(sorted(PARTS)))
    ap.add_argument("--out")
    ap.add_argument("--model")
    ap.add_argument("--load-format")
    ap.add_argument("--engine", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.engine:
        with open(args.engine, encoding="utf-8") as f:
            print(json.dumps(run_engine(json.load(f))))
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
