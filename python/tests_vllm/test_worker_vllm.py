"""moe-prof's own vLLM engine (python/moe_prof/engines/vllm_engine.py) and worker, as `moe-prof
run` starts them for a log pass, on vLLM 0.15.1's real engine (stand-ins: standins.py, chosen with
--engine-args). Its engine core runs in its own process, as in the product. Checks: the protocol
messages, warm-up never logged, request ids from 0, the log complete, valid, and conserved."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MODEL = os.path.join(ROOT, "fixtures", "models", "qwen1.5-moe-a2.7b")
CLI = os.path.join(ROOT, "dist", "src", "cli.js")

# vLLM finds no GPU platform here; the worker is started after this one line (the engine core
# process is forked from it and inherits it).
LAUNCH = (
    "import sys\n"
    "from vllm.platforms import current_platform\n"
    "type(current_platform).device_type = 'cpu'\n"
    "from moe_prof.worker.__main__ import main\n"
    "sys.exit(main(['--job', sys.argv[1]]))\n"
)


def _job(tmp: Any, pass_name: str, layers: list[int] | None) -> dict[str, Any]:
    return {
        "engine": "vllm",
        "pass_name": pass_name,
        "model": MODEL,
        "prompts": ["Natalia sold clips to 48 of her friends.", "How many bolts in total?", "A robe takes 2 bolts."],
        "seed": 1234,
        "max_tokens": 12,
        "temperature": 0,
        "routes_path": str(tmp / "moe_routes.jsonl") if pass_name == "log" else None,
        "layers": layers,
        "warmup_prompts": 2,
        "warmup_max_tokens": 4,
        "tensor_parallel_size": 1,
        "gpu_memory_utilization": 0.9,
        "max_model_len": 512,
        "enforce_eager": True,
        "deterministic": False,
        "chat_template": True,
        "random_weights": False,
        "config_dir": None,
        "tokenizer": None,
        "dtype": "bfloat16",
        "device": "cuda",
        "load_format": "auto",
        "engine_args": {
            "worker_cls": "standins.RouteTestWorker",
            "distributed_executor_backend": "uni",
            "block_size": 16,
            "num_gpu_blocks_override": 64,
            "max_num_batched_tokens": 64,
        },
    }


def _run(tmp: Any, job: dict[str, Any]) -> list[dict[str, Any]]:
    path = tmp / f"{job['pass_name']}.json"
    path.write_text(json.dumps(job))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.join(ROOT, "python"), HERE])}
    r = subprocess.run([sys.executable, "-c", LAUNCH, str(path)], env=env, capture_output=True, text=True, timeout=600)
    msgs = [json.loads(line) for line in r.stdout.splitlines()]
    assert r.returncode == 0, (msgs[-1:], r.stderr[-3000:])
    return msgs


def test_log_pass_through_the_worker_protocol(tmp_path: Any) -> None:
    msgs = _run(tmp_path, _job(tmp_path, "log", [0, 3, 4, 5]))
    assert [m["type"] for m in msgs if m["type"] != "progress"] == [
        "hello",
        "phase",
        "ready",
        "phase",
        "phase",
        "result",
    ]
    ready, result = msgs[2], msgs[-1]
    assert ready["engine"]["engine"] == "vllm" and ready["engine"]["enable_prefix_caching"] is False
    routes = result["routes"]
    assert routes["path"] == str(tmp_path / "moe_routes.jsonl") and routes["stats"]["closed"]
    assert subprocess.run(["node", CLI, "validate", routes["path"]], capture_output=True).returncode == 0
    with open(routes["path"], encoding="utf-8") as f:
        meta, *rows = [json.loads(line) for line in f]
    assert meta["layers_logged"] == [0, 3, 4, 5] and meta["engine"] == "vllm" and meta["prefix_caching"] is False
    per_req: dict[str, set[int]] = {}
    for r in rows:
        per_req.setdefault(r["req_id"], set()).add(r["token_idx"])
    # conservation: P + G - 1 rows per request at 0..P+G-2, warm-up requests absent, ids from 0
    assert sorted(per_req) == ["0", "1", "2"]
    for i, (p, out) in enumerate(zip(result["prompt_token_counts"], result["output_token_ids"], strict=True)):
        assert per_req[str(i)] == set(range(p + len(out) - 1))
    assert result["num_cached_tokens"] == [0, 0, 0]


def test_a_layer_that_is_not_moe_is_refused_naming_layers_before_the_model_loads(tmp_path: Any) -> None:
    job = _job(tmp_path, "log", [0, 30])
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(job))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.join(ROOT, "python"), HERE])}
    r = subprocess.run([sys.executable, "-c", LAUNCH, str(path)], env=env, capture_output=True, text=True, timeout=600)
    msgs = [json.loads(line) for line in r.stdout.splitlines()]
    assert msgs[-1]["type"] == "error"
    assert msgs[-1]["message"] == "--layers 0,30: layers 30 are not MoE layers of this model (its MoE layers: 0-23)"
    assert "ready" not in [m["type"] for m in msgs]  # refused before the engine loaded
