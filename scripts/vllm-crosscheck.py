#!/usr/bin/env python3
"""Cross-check the patched vLLM's route log against oracles that do not share its attribution.
For a GPU host with vllm==0.15.1 and the moe-prof patch applied (`moe-prof setup`):

    .venv/bin/python scripts/vllm-crosscheck.py --out DIR [--model ID] [--num-prompts N]
        [--max-tokens N] [--hf-model ID]

1. Eager run with vLLM's own capture (`enable_return_routed_experts`): in 0.15.1 FusedMoE binds
   that capture before its capturer exists, so it never fires; this script (and nothing else)
   makes each layer look the capturer up at call time. Its per-request `routed_experts`
   ([P+G-1, layers, top_k], attributed through KV-cache slots) must equal the log's ids exactly.
2. Under --deterministic (vLLM's batch-invariant mode), a CUDA-graph run's log must equal an
   eager run's log: same rows, same ids, bit-identical weights, for requests whose outputs agree.
3. (--hf-model ID) transformers on the unquantized checkpoint, teacher-forced on vLLM's tokens:
   the share of rows whose top-1 expert agrees (a weaker oracle: GPTQ and bf16 weights differ).

Each run is a fresh process (one engine per process). Writes DIR/crosscheck.json and prints one
PASS/FAIL line per check; exit 0 only if checks 1 and 2 pass. The comparisons are
python/moe_prof/crosscheck.py, tested on recorded data in python/tests/test_crosscheck.py.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))

DEFAULT_MODEL = "Qwen/Qwen1.5-MoE-A2.7B-Chat-GPTQ-Int4"


def _prompts(n: int) -> list[str]:
    with open(os.path.join(ROOT, "fixtures", "gsm8k", "test.jsonl"), encoding="utf-8") as f:
        return [json.loads(line)["question"] for _, line in zip(range(n), f, strict=False)]


def _lazy_capture_lookup() -> None:
    """The test-only fix: FusedMoE looks vLLM's RoutedExpertsCapturer up at call time."""
    from vllm.model_executor.layers.fused_moe import layer as fused_layer
    from vllm.model_executor.layers.fused_moe.routed_experts_capturer import RoutedExpertsCapturer

    original = fused_layer.FusedMoE.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if self.vllm_config.model_config is not None and self.vllm_config.model_config.enable_return_routed_experts:

            def capture(topk_ids: Any, layer: Any = self) -> None:
                capturer = RoutedExpertsCapturer.get_instance()
                if capturer is not None:
                    capturer.capture(layer.layer_id, topk_ids)

            self.capture = capture

    fused_layer.FusedMoE.__init__ = init


def run_one(spec: dict[str, Any]) -> dict[str, Any]:
    """One engine, in this process (the child side of `--run SPEC`)."""
    os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"  # the lookup fix must reach the engine
    os.environ["VLLM_LOG_MOE"] = spec["log"]
    if spec["deterministic"]:
        os.environ["VLLM_BATCH_INVARIANT"] = "1"
    if spec["routed_experts"]:
        _lazy_capture_lookup()
    from vllm import LLM, SamplingParams

    llm = LLM(
        model=spec["model"],
        seed=1234,
        enforce_eager=spec["eager"],
        enable_prefix_caching=False,
        enable_return_routed_experts=spec["routed_experts"],
        async_scheduling=False,
        **({"attention_backend": "FLASH_ATTN"} if spec["deterministic"] else {}),
    )
    tok = llm.get_tokenizer()
    prompts = [
        tok.apply_chat_template([{"role": "user", "content": q}], tokenize=True, add_generation_prompt=True)
        for q in spec["prompts"]
    ]
    outs = llm.generate(
        [{"prompt_token_ids": list(p)} for p in prompts], SamplingParams(temperature=0, max_tokens=spec["max_tokens"])
    )
    answer = llm.collective_rpc("moe_prof_control", args=("close",))
    result: dict[str, Any] = {
        "outputs": [list(o.outputs[0].token_ids) for o in outs],
        "prompts": [list(o.prompt_token_ids or []) for o in outs],
        "capture": answer,
    }
    if spec["routed_experts"]:
        import numpy as np

        for i, o in enumerate(outs):
            arr = o.outputs[0].routed_experts
            if arr is None:
                raise RuntimeError("routed_experts is empty: the capturer lookup did not take")
            np.save(os.path.join(spec["dir"], f"routed-{i}.npy"), np.asarray(arr, dtype=np.int32))
    return result


def _child(spec: dict[str, Any]) -> dict[str, Any]:
    path = os.path.join(spec["dir"], f"{spec['name']}.spec.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(spec, f)
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "python")}
    r = subprocess.run([sys.executable, __file__, "--run", path], env=env, capture_output=True, text=True)
    with open(os.path.join(spec["dir"], f"{spec['name']}.log"), "w", encoding="utf-8") as f:
        f.write(r.stderr)
    if r.returncode != 0:
        raise SystemExit(
            f"vllm-crosscheck: run {spec['name']} failed (see {spec['dir']}/{spec['name']}.log): "
            f"{(r.stderr.strip().splitlines() or ['no output'])[-1]}"
        )
    return json.loads(r.stdout.strip().splitlines()[-1])


def _hf_top1(model_id: str, sequences: dict[str, list[int]]) -> dict[str, Any]:
    """Top-1 expert per position and layer from transformers, teacher-forced on `sequences`."""
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_id, dtype=torch.bfloat16, device_map="cuda").eval()
    out: dict[str, Any] = {}
    with torch.inference_mode():
        for req, seq in sequences.items():
            ids = torch.tensor([seq[:-1]], device="cuda")  # positions 0..P+G-2: what vLLM computed
            logits = model(input_ids=ids, output_router_logits=True).router_logits
            out[req] = np.stack([lg.float().softmax(-1).argmax(-1).cpu().numpy().reshape(-1) for lg in logits], axis=1)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--num-prompts", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--hf-model", help="unquantized checkpoint for the top-1 agreement check")
    ap.add_argument("--run", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run:
        with open(args.run, encoding="utf-8") as f:
            print(json.dumps(run_one(json.load(f))))
        return 0

    import numpy as np
    from moe_prof.crosscheck import against_routed_experts, between_logs, read_log, top1_agreement

    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    base = {"dir": out, "model": args.model, "prompts": _prompts(args.num_prompts), "max_tokens": args.max_tokens}
    runs = {
        "oracle": {**base, "name": "oracle", "eager": True, "deterministic": False, "routed_experts": True},
        "graphs": {**base, "name": "graphs", "eager": False, "deterministic": True, "routed_experts": False},
        "eager": {**base, "name": "eager", "eager": True, "deterministic": True, "routed_experts": False},
    }
    results: dict[str, dict[str, Any]] = {}
    for name, spec in runs.items():
        spec["log"] = os.path.join(out, f"{name}.jsonl")
        results[name] = _child(spec)
    report: dict[str, Any] = {
        "model": args.model,
        "prompts": args.num_prompts,
        "max_tokens": args.max_tokens,
        "checks": [],
    }

    oracle_log = read_log(runs["oracle"]["log"])
    routed = {str(i): np.load(os.path.join(out, f"routed-{i}.npy")) for i in range(args.num_prompts)}
    checks = [against_routed_experts(oracle_log, routed)]
    same = [
        str(i)
        for i, (a, b) in enumerate(zip(results["graphs"]["outputs"], results["eager"]["outputs"], strict=True))
        if a == b
    ]
    report["deterministic_identical_outputs"] = f"{len(same)} of {args.num_prompts}"
    checks.append(
        between_logs(
            read_log(runs["graphs"]["log"]),
            read_log(runs["eager"]["log"]),
            same,
            "CUDA-graph log vs eager log under --deterministic",
        )
    )
    for c in checks:
        print(c.line())
        for e in c.examples[:3]:
            print(f"  {e}")
        report["checks"].append(
            {
                "name": c.name,
                "ok": c.ok,
                "compared": c.compared,
                "mismatched": c.mismatched,
                "missing": c.missing,
                "examples": c.examples,
            }
        )
    print(f"  (graph and eager runs generated identical tokens for {len(same)} of {args.num_prompts} requests)")
    if args.hf_model:
        seqs = {
            str(i): p + o
            for i, (p, o) in enumerate(zip(results["oracle"]["prompts"], results["oracle"]["outputs"], strict=True))
        }
        agree, total = top1_agreement(oracle_log, _hf_top1(args.hf_model, seqs))
        report["hf_top1_agreement"] = {"model": args.hf_model, "agree": agree, "rows": total}
        print(
            f"INFO top-1 agreement with transformers ({args.hf_model}, bf16): {agree}/{total} = {agree / max(total, 1):.4f}"
        )
    with open(os.path.join(out, "crosscheck.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    return 0 if all(c.ok for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
