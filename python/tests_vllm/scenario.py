"""One scenario on vLLM 0.15.1's real engine (see standins.py), in a process of its own:

    python scenario.py SPEC.json RESULT.json

SPEC keys: "model" (a config directory), "env" (set before vLLM is imported), "engine" (LLM
keyword arguments), "prompts" / "warmup" (token id lists), "max_tokens", "stop" (stop token on),
"flow": "run" (what moe-prof's vLLM engine does: warm up while paused, resume with the warm-up's
request count as offset, generate) or "plain" (a user's program with VLLM_LOG_MOE set: logging
from the start, no control calls), "llms" (how many LLMs one after the other), "load_only",
"kill_writer" (SIGKILL the route writer before generating; the result says whether the capture
buffer outlived the capture that logging stopped), "fsize_limit" (RLIMIT_FSIZE bytes,
inherited by the writer: a full disk), "shutdown": "close" (control close, then engine shutdown),
"engine" (engine shutdown only), "stop_writer" (the writer is stopped while the engine shuts
down and continued once the engine is gone) or "exit" (the program just ends).
RESULT: outputs per request, control answers, the writer's pid, errors.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
import time
import traceback
from typing import Any

_KEEP: list[Any] = []


def _outputs(outs: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "request_id": o.request_id,
            "prompt_token_ids": list(o.prompt_token_ids or []),
            "output_token_ids": list(o.outputs[0].token_ids),
            "finish_reason": o.outputs[0].finish_reason,
            "num_cached_tokens": int(o.num_cached_tokens or 0),
        }
        for o in outs
    ]


def _one_llm(spec: dict[str, Any], engine: dict[str, Any], result: dict[str, Any]) -> None:
    from standins import STOP_TOKEN
    from vllm import LLM, SamplingParams

    llm = LLM(**engine)
    control = result["control"]
    stats = llm.collective_rpc("moe_prof_control", args=("stats",))
    control.append(stats)
    pid = stats[0].get("writer_pid")
    result["writer_pids"].append(pid)
    if spec.get("load_only"):
        llm.llm_engine.engine_core.shutdown()
        return
    stop = [STOP_TOKEN] if spec.get("stop") else None
    params = SamplingParams(temperature=0.0, max_tokens=int(spec["max_tokens"]), stop_token_ids=stop)
    if spec["flow"] == "run":
        warm = SamplingParams(temperature=0.0, max_tokens=4)
        llm.generate([{"prompt_token_ids": p} for p in spec["warmup"]], warm, use_tqdm=False)
        control.append(llm.collective_rpc("moe_prof_control", args=("resume", int(llm.request_counter.counter))))
    if spec.get("kill_writer"):
        os.kill(int(pid), signal.SIGKILL)
    outs = llm.generate([{"prompt_token_ids": p} for p in spec["prompts"]], params, use_tqdm=False)
    result["generations"].append(_outputs(outs))
    if spec.get("kill_writer"):
        result["capture_buffer_alive"] = llm.collective_rpc("moe_test_capture_buffer_alive")
    how = spec.get("shutdown", "close")
    if how == "close":
        control.append(llm.collective_rpc("moe_prof_control", args=("close",)))
    if how == "exit":
        result["llms_alive"].append(llm)  # never shut down: the program ends with it
        return
    if how == "stop_writer":
        os.kill(int(pid), signal.SIGSTOP)
    t0 = time.monotonic()
    llm.llm_engine.engine_core.shutdown()  # what the end of a program does
    result["shutdown_s"] = round(time.monotonic() - t0, 3)
    del llm
    gc.collect()
    if how == "stop_writer":
        os.kill(int(pid), signal.SIGCONT)  # the engine (process) is gone; the writer carries on
        final = spec["env"]["VLLM_LOG_MOE"]
        deadline = time.monotonic() + 60
        while not os.path.exists(final) and time.monotonic() < deadline:
            time.sleep(0.1)


def main(spec_path: str, result_path: str) -> int:
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    os.environ.update({k: str(v) for k, v in spec.get("env", {}).items()})
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    result: dict[str, Any] = {"generations": [], "control": [], "writer_pids": [], "llms_alive": [], "error": None}
    try:
        if spec.get("fsize_limit"):
            import resource

            resource.setrlimit(resource.RLIMIT_FSIZE, (int(spec["fsize_limit"]), resource.RLIM_INFINITY))
        from vllm.platforms import current_platform

        # vLLM finds no platform on a machine without a GPU; "cpu" lets its configs build.
        type(current_platform).device_type = "cpu"
        engine = {
            "model": spec["model"],
            "skip_tokenizer_init": True,
            "worker_cls": "standins.RouteTestWorker",
            "distributed_executor_backend": "uni",
            "block_size": 16,
            "seed": 1234,
            "enforce_eager": True,
            **spec.get("engine", {}),
        }
        for _ in range(int(spec.get("llms", 1))):
            _one_llm(spec, engine, result)
    except BaseException as e:  # the test reads the error; the scenario itself must not hang
        result["error"] = f"{type(e).__name__}: {e}"
        result["traceback"] = traceback.format_exc()
    _KEEP.extend(result.pop("llms_alive"))  # "exit": the program ends with its engine alive
    with open(result_path, "w", encoding="utf-8") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
