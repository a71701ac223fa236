"""The patched vLLM 0.15.1 (or 0.20.2) engine, run for real on a CPU (what is real and what stands in:
standins.py), in every scheduler situation vLLM has: chunked prefill, preemption (a KV cache of
a few blocks), async scheduling on and off, prefix caching on and off, requests that stop early,
a second engine in one process, faults of the writer, shutdown with a backlog, and the paths
that must be refused.

The oracle is what the scheduler itself scheduled each step (recorded by the stand-in worker
from the SchedulerOutput it was handed) and the stand-in model's routing function: every test
asserts the exact set of logged (req_id, token_idx, layer) rows, each row's values, and that
`moe-prof validate` accepts the file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from standins import routing

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "fixtures", "models", "qwen1.5-moe-a2.7b")
SCENARIO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenario.py")
CLI = os.path.join(ROOT, "dist", "src", "cli.js")


def _prompt(seed: int, n: int) -> list[int]:
    return [(seed * 131 + i * 29) % 900 + 11 for i in range(n)]


@dataclass
class Scenario:
    result: dict[str, Any]
    log: str
    oracle: list[dict[str, Any]]
    offset: int
    stderr: str
    meta: dict[str, Any] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def outputs(self) -> list[dict[str, Any]]:
        assert self.result["error"] is None, self.result.get("traceback")
        return self.result["generations"][-1]


def run_scenario(
    tmp_path: Any,
    *,
    flow: str = "run",
    engine: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    prompts: list[list[int]],
    warmup: list[list[int]] | None = None,
    max_tokens: int = 24,
    stop: int = 0,
    log_name: str = "routes.jsonl",
    timeout: int = 600,
    **extra: Any,
) -> Scenario:
    log = str(tmp_path / log_name)
    oracle = str(tmp_path / "schedule.jsonl")
    spec = {
        "model": MODEL,
        "env": {
            "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
            "VLLM_LOG_MOE": log,
            "MOE_TEST_SCHEDULE_LOG": oracle,
            "MOE_TEST_STOP_EVERY": str(stop),  # the stop token at about one position in `stop`
            **({"VLLM_LOG_MOE_PAUSED": "1"} if flow == "run" else {}),
            **(env or {}),
        },
        "engine": {"max_model_len": 512, "enable_prefix_caching": False, "async_scheduling": False, **(engine or {})},
        "flow": flow,
        "prompts": prompts,
        "warmup": warmup if warmup is not None else [_prompt(99, 5), _prompt(98, 7)],
        "max_tokens": max_tokens,
        "stop": stop > 0,
        **extra,
    }
    spec_path, result_path = tmp_path / "spec.json", tmp_path / "result.json"
    spec_path.write_text(json.dumps(spec))
    proc = subprocess.run(
        [sys.executable, SCENARIO, str(spec_path), str(result_path)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": os.path.dirname(SCENARIO)},
    )
    assert result_path.exists(), f"scenario crashed:\n{proc.stderr[-4000:]}"
    result = json.loads(result_path.read_text())
    steps = [json.loads(line) for line in open(oracle, encoding="utf-8")] if os.path.exists(oracle) else []
    offset = len(spec["warmup"]) if flow == "run" else 0
    return Scenario(result, log, steps, offset, proc.stderr)


def user_id(internal: str, offset: int) -> str | None:
    """The logged id of vLLM's internal request id; None for warm-up requests."""
    head = internal.rpartition("-")[0]
    n = int(head) - offset
    return str(n) if n >= 0 else None


def read_log(path: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    with open(path, encoding="utf-8") as f:
        lines = [json.loads(line) for line in f]
    return lines[0], lines[1:]


def validate(path: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["node", CLI, "validate", path], capture_output=True, text=True, timeout=120)


def check_log_is_the_engines(sc: Scenario, layers: list[int] | None = None) -> dict[str, set[int]]:
    """The log holds exactly the rows the scheduler had computed for the measured requests, each
    position once, every layer, with the values the model computed for that token and position;
    `step` is the engine step that computed it; `moe-prof validate` accepts it."""
    assert sc.result["error"] is None, sc.result.get("traceback")
    v = validate(sc.log)
    assert v.returncode == 0, v.stderr
    sc.meta, sc.rows = read_log(sc.log)
    layers = layers if layers is not None else list(range(24))
    assert sc.meta["layers_logged"] == layers
    expected: dict[str, set[int]] = {}
    step_of: dict[tuple[str, int], int] = {}
    for step in sc.oracle:
        for rid, first, n in step["scheduled"]:
            uid = user_id(rid, sc.offset)
            if uid is None:
                continue
            for pos in range(first, first + n):
                if pos not in expected.setdefault(uid, set()):
                    expected[uid].add(pos)
                    step_of[(uid, pos)] = step["step"]  # the first computation is the one logged
    got: dict[tuple[str, int], list[int]] = {}
    for r in sc.rows:
        got.setdefault((r["req_id"], r["token_idx"]), []).append(r["layer"])
    want = {(u, p) for u, ps in expected.items() for p in ps}
    assert set(got) == want, f"missing {sorted(want - set(got))[:10]}, extra {sorted(set(got) - want)[:10]}"
    assert all(sorted(ls) == layers for ls in got.values()), "a position is not logged once in every layer"
    seqs = {str(i): o["prompt_token_ids"] + o["output_token_ids"] for i, o in enumerate(sc.outputs)}
    prompt_len = {str(i): len(o["prompt_token_ids"]) for i, o in enumerate(sc.outputs)}
    for r in sc.rows:
        uid, pos = r["req_id"], r["token_idx"]
        token = seqs[uid][pos]
        ids, weights = routing(token, pos, r["layer"])
        assert r["topk_ids"] == ids, f"row {uid}/{pos}/{r['layer']} is not that token's routing"
        # weights are written with 9 significant digits: exact as float32 (the router's dtype)
        assert np.array(r["topk_weights"], dtype=np.float32).tolist() == np.array(weights, dtype=np.float32).tolist()
        assert r["token_id"] == token
        assert r["phase"] == ("prefill" if pos < prompt_len[uid] else "decode")
        assert r["step"] == step_of[(uid, pos)]
    return expected


def check_conservation(sc: Scenario, expected: dict[str, set[int]]) -> None:
    """moe-prof's conservation rule, against the engine: a request of P prompt tokens, G output
    tokens and C cached prompt tokens has P + G - 1 - C rows at positions C..P+G-2, plus one at
    P+G-1 when async scheduling computed a row after an early stop."""
    asyncs = bool(sc.meta.get("async_scheduling"))
    for i, o in enumerate(sc.outputs):
        p, g, c = len(o["prompt_token_ids"]), len(o["output_token_ids"]), o["num_cached_tokens"]
        extra = 1 if asyncs and o["finish_reason"] == "stop" else 0
        assert expected[str(i)] == set(range(c, p + g - 1 + extra)), (
            f"request {i}: P={p} G={g} C={c} {o['finish_reason']}"
        )


def _preempted(sc: Scenario) -> int:
    return sum(len(s["preempted"]) for s in sc.oracle)


def _chunked(sc: Scenario) -> bool:
    """Some request's prompt was computed over more than one step."""
    prefill_steps: dict[str, int] = {}
    for s in sc.oracle:
        for rid, first, n in s["scheduled"]:
            if n > 1 or first == 0:
                prefill_steps[rid] = prefill_steps.get(rid, 0) + 1
    return any(v > 1 for v in prefill_steps.values())


# ---- scheduler situations --------------------------------------------------------------------
def test_preemption_and_chunked_prefill_log_each_position_once(tmp_path: Any) -> None:
    """Hole 1: 12 KV blocks of 16 for three requests of up to 130 tokens: vLLM preempts and
    recomputes from position 0; a 64-token budget chunks the prompts."""
    sc = run_scenario(
        tmp_path,
        # 12 blocks hold 192 tokens: vLLM 0.20.2 refuses a max_model_len the KV cache cannot hold once
        engine={"max_num_batched_tokens": 64, "max_num_seqs": 4, "num_gpu_blocks_override": 12, "max_model_len": 192},
        prompts=[_prompt(1, 70), _prompt(2, 66), _prompt(3, 40)],
        max_tokens=60,
    )
    assert _preempted(sc) > 0 and _chunked(sc)
    expected = check_log_is_the_engines(sc)
    check_conservation(sc, expected)
    closed = sc.result["control"][-1][0]
    assert closed["closed"] and closed["rows_recomputed"] > 0
    assert closed["rows_written"] == sum(len(v) for v in expected.values())


def test_async_scheduling_with_early_stops_and_preemption(tmp_path: Any) -> None:
    """vLLM's default async scheduling: the step after a stop is scheduled before the stop is
    seen, so a request that stops early is computed once more; preemption on top."""
    sc = run_scenario(
        tmp_path,
        engine={
            "max_num_batched_tokens": 48,
            "max_num_seqs": 4,
            "num_gpu_blocks_override": 14,
            "max_model_len": 192,
            "async_scheduling": True,
        },
        prompts=[_prompt(i, 20 + 9 * i) for i in range(5)],
        max_tokens=40,
        stop=41,
    )
    assert any(o["finish_reason"] == "stop" for o in sc.outputs) and any(
        o["finish_reason"] == "length" for o in sc.outputs
    )
    expected = check_log_is_the_engines(sc)
    assert sc.meta["async_scheduling"] is True
    check_conservation(sc, expected)


def test_sync_scheduling_with_early_stops(tmp_path: Any) -> None:
    sc = run_scenario(
        tmp_path,
        engine={"max_num_batched_tokens": 256, "max_num_seqs": 8},
        prompts=[_prompt(i, 12 + 5 * i) for i in range(6)],
        max_tokens=30,
        stop=41,
    )
    assert any(o["finish_reason"] == "stop" for o in sc.outputs)
    check_conservation(sc, check_log_is_the_engines(sc))


def test_prefix_caching_logs_computed_positions_and_says_so(tmp_path: Any) -> None:
    """Hole 3: vLLM's default prefix caching. Prompts share a 48-token prefix; the later ones
    find it cached and their rows start at the first computed position. A user's program
    (logging from the start, no control calls) whose engine core runs in its own process and is
    shut down the way a program's end shuts it down."""
    shared = _prompt(7, 48)
    prompts = [shared + _prompt(i, 5 + i) for i in range(4)]
    sc = run_scenario(
        tmp_path,
        flow="plain",
        shutdown="engine",
        engine={"enable_prefix_caching": True, "max_num_seqs": 1, "max_num_batched_tokens": 256},
        env={"VLLM_ENABLE_V1_MULTIPROCESSING": "1"},
        prompts=prompts,
        max_tokens=10,
    )
    assert any(o["num_cached_tokens"] > 0 for o in sc.outputs)
    expected = check_log_is_the_engines(sc)
    assert sc.meta["prefix_caching"] is True
    check_conservation(sc, expected)


def test_moe_chunked_forward_and_a_layer_subset(tmp_path: Any) -> None:
    """FusedMoE.forward_impl_chunked (rows recorded at an offset) and VLLM_LOG_MOE_LAYERS."""
    sc = run_scenario(
        tmp_path,
        env={"MOE_TEST_MOE_CHUNK": "16", "VLLM_LOG_MOE_LAYERS": "0,5-7,23"},
        engine={"max_num_batched_tokens": 100},
        prompts=[_prompt(i, 30 + i) for i in range(3)],
        max_tokens=8,
    )
    check_conservation(sc, check_log_is_the_engines(sc, layers=[0, 5, 6, 7, 23]))


# ---- a second engine, shutdown, writer faults ---------------------------------------------
def test_a_second_llm_in_one_process_is_logged_to_its_own_file(tmp_path: Any) -> None:
    """Hole 6: two LLMs one after the other in one process; the second one is not closed through
    control and its program just ends (logged through to the end at interpreter exit)."""
    sc = run_scenario(
        tmp_path, flow="plain", llms=2, shutdown="exit", prompts=[_prompt(1, 9), _prompt(2, 11)], max_tokens=6
    )
    assert sc.result["error"] is None, sc.result.get("traceback")
    first = check_log_is_the_engines(Scenario(sc.result, sc.log, _steps_of_engine(sc, 0), 0, ""))
    second_log = str(tmp_path / "routes.2.jsonl")
    second = check_log_is_the_engines(Scenario(sc.result, second_log, _steps_of_engine(sc, 1), 0, ""))
    assert set(first) == set(second) == {"0", "1"}  # each LLM counts its requests from 0


def _steps_of_engine(sc: Scenario, k: int) -> list[dict[str, Any]]:
    """The oracle of the k-th engine: its steps restart at 0."""
    starts = [i for i, s in enumerate(sc.oracle) if s["step"] == 0]
    starts.append(len(sc.oracle))
    return sc.oracle[starts[k] : starts[k + 1]]


def test_shutdown_lets_a_stalled_writer_finish_after_the_engine_is_gone(tmp_path: Any) -> None:
    """Hole 4: the writer cannot keep up when the engine shuts down (here: it is stopped), and
    vLLM kills the engine process's tree 5 s after SIGTERM. The detached writer completes the
    log once it runs again; the engine does not wait for it past its bounded time."""
    sc = run_scenario(
        tmp_path,
        flow="plain",
        shutdown="stop_writer",
        env={"VLLM_ENABLE_V1_MULTIPROCESSING": "1"},
        prompts=[_prompt(i, 25) for i in range(4)],
        max_tokens=12,
    )
    assert sc.result["shutdown_s"] < 10
    check_conservation(sc, check_log_is_the_engines(sc))


def test_killed_writer_stops_logging_and_generation_goes_on(tmp_path: Any) -> None:
    """Hole 4: a writer failure no longer takes the engine down; the log stays .partial and
    `moe-prof validate` calls it incomplete."""
    sc = run_scenario(tmp_path, kill_writer=True, prompts=[_prompt(i, 20) for i in range(3)], max_tokens=10)
    assert sc.result["error"] is None, sc.result.get("traceback")
    assert [len(o["output_token_ids"]) for o in sc.outputs] == [10, 10, 10]
    closed = sc.result["control"][-1][0]
    assert closed["active"] is False and "writer" in closed["disabled_reason"]
    assert not os.path.exists(sc.log) and os.path.exists(sc.log + ".partial")
    assert validate(sc.log + ".partial").returncode != 0
    # Logging stopped, but captured CUDA graphs keep writing into the capture buffer on every
    # replay: it must not be freed (on a GPU its memory would be reused under the graphs).
    assert sc.result["capture_buffer_alive"] == [True]


def test_full_disk_stops_logging_and_generation_goes_on(tmp_path: Any) -> None:
    """Hole 4: the writer's file cannot grow (RLIMIT_FSIZE, what a full disk does to a write)."""
    sc = run_scenario(tmp_path, fsize_limit=150_000, prompts=[_prompt(i, 40) for i in range(4)], max_tokens=20)
    assert sc.result["error"] is None, sc.result.get("traceback")
    assert all(len(o["output_token_ids"]) == 20 for o in sc.outputs)
    closed = sc.result["control"][-1][0]
    assert closed["active"] is False and "File too large" in closed["disabled_reason"]
    assert not os.path.exists(sc.log)


# ---- refused at start ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"VLLM_USE_V2_MODEL_RUNNER": "1"}, "V2 model runner"),
        ({"MOE_TEST_MONOLITHIC": "1"}, "routes inside itself"),
        ({"VLLM_LOG_MOE_LAYERS": "0,99"}, "VLLM_LOG_MOE_LAYERS names layers [99]"),
    ],
)
def test_paths_that_never_reach_the_hook_are_refused_at_start(tmp_path: Any, env: dict[str, str], reason: str) -> None:
    """Hole 2: no file is written (before: a meta-only log renamed as complete), and the reason
    is in the warning and in the control answer that `moe-prof run` reports."""
    sc = run_scenario(tmp_path, flow="plain", load_only=True, env=env, prompts=[])
    assert sc.result["error"] is None, sc.result.get("traceback")
    answer = sc.result["control"][0][0]
    assert answer["active"] is False and reason in answer["disabled_reason"]
    assert reason in sc.stderr
    assert not os.path.exists(sc.log) and not os.path.exists(sc.log + ".partial")


def test_monolithic_engine_still_generates(tmp_path: Any) -> None:
    sc = run_scenario(
        tmp_path,
        flow="plain",
        shutdown="engine",
        env={"MOE_TEST_MONOLITHIC": "1"},
        prompts=[_prompt(1, 8)],
        max_tokens=5,
    )
    assert sc.result["error"] is None and len(sc.outputs[0]["output_token_ids"]) == 5
    assert not os.path.exists(sc.log) and not os.path.exists(sc.log + ".partial")
