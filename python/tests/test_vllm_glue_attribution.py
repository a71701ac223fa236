"""The vLLM glue's pure parts with stand-in runner objects (SimpleNamespace holding numpy arrays
shaped like vLLM's InputBatch). The same code runs on vLLM 0.15.1's real scheduler, input batch
and model runner in python/tests_vllm (the lock's venv); these run everywhere, fast."""

from types import SimpleNamespace

import numpy as np
from moe_prof import vllm_glue
from moe_prof.capture import Segment
from moe_prof.capture.jsonl import RECOMPUTED


def _runner(req_ids, computed, prompt, live=None):
    ib = SimpleNamespace(
        req_ids=req_ids,
        num_computed_tokens_cpu=np.array(computed + [0] * 4, dtype=np.int32),  # persistent arrays are longer
        num_prompt_tokens=np.array(prompt + [0] * 4, dtype=np.int32),
    )
    return SimpleNamespace(input_batch=ib, requests={r: object() for r in (live if live is not None else req_ids)})


def test_mixed_step_prefill_chunk_decode_and_straddling_chunk():
    s = vllm_glue._Session(None)
    runner = _runner(["0-abcd1234", "1-ffff0000", "2-00000000"], [5, 0, 8], [5, 12, 10])
    segs = vllm_glue._segments(s, runner, np.array([1, 4, 6], dtype=np.int32))
    assert segs == [
        Segment("0", 5, 1, "decode"),
        Segment("1", 0, 4, "prefill"),
        Segment("2", 8, 2, "prefill"),
        Segment("2", 10, 4, "decode"),
    ]


def test_recomputed_positions_are_marked_once_logged():
    """vLLM recomputes a preempted request from position 0: what was logged is skipped."""
    s = vllm_glue._Session(None)
    vllm_glue._segments(s, _runner(["3-x"], [0], [10]), np.array([10]))  # prompt
    vllm_glue._segments(s, _runner(["3-x"], [10], [10]), np.array([1]))  # first decode row, position 10
    again = vllm_glue._segments(s, _runner(["3-x"], [0], [10]), np.array([8]))  # preempted, recomputed in chunks
    assert again == [Segment("3", 0, 8, RECOMPUTED)]
    tail = vllm_glue._segments(s, _runner(["3-x"], [8], [10]), np.array([4]))  # 8..11: 8..10 again, 11 new
    assert tail == [Segment("3", 8, 3, RECOMPUTED), Segment("3", 11, 1, "decode")]


def test_marks_of_finished_requests_are_dropped():
    s = vllm_glue._Session(None)
    for step in range(vllm_glue._PRUNE_EVERY + 1):
        s.steps = step
        vllm_glue._segments(s, _runner([f"{step}-x"], [0], [4], live=[f"{step}-x"]), np.array([4]))
    assert len(s.logged_upto) < vllm_glue._PRUNE_EVERY


def test_control_without_a_session_reports_inactive():
    worker = SimpleNamespace(model_runner=SimpleNamespace())
    assert vllm_glue.control(worker, "stats") == {
        "active": False,
        "enabled": vllm_glue.ENABLED,
        "disabled_reason": None,
    }


def test_control_says_why_logging_was_refused():
    runner = SimpleNamespace()
    setattr(runner, vllm_glue._ATTR, vllm_glue._Session("speculative decoding is not supported"))
    answer = vllm_glue.control(SimpleNamespace(model_runner=runner), "close")
    assert answer == {
        "active": False,
        "enabled": vllm_glue.ENABLED,
        "disabled_reason": "speculative decoding is not supported",
    }


def test_marks_of_preempted_requests_survive_pruning():
    """A preempted request waits (still in runner.requests) while hundreds of steps run and marks
    are pruned; when it is recomputed from position 0, what was logged before is skipped."""
    s = vllm_glue._Session(None)
    vllm_glue._segments(s, _runner(["7-x"], [0], [10]), np.array([10]))  # its prompt, logged
    for step in range(1, 2 * vllm_glue._PRUNE_EVERY + 2):  # two prunes while it waits
        s.steps = step
        others = _runner([f"{step}-y"], [0], [4], live=[f"{step}-y", "7-x"])
        vllm_glue._segments(s, others, np.array([4]))
    assert "7-x" in s.logged_upto
    again = vllm_glue._segments(s, _runner(["7-x"], [0], [10]), np.array([12]))  # recomputed, 2 new
    assert again == [Segment("7", 0, 10, RECOMPUTED), Segment("7", 10, 2, "decode")]


def test_decode_runs_give_the_same_segments_as_request_by_request():
    """A random scheduler (new requests in prefill chunks, decode, finish, preemption with
    recompute from 0 or a cached prefix, reordering) for 3,000 steps: the segments of _segments
    (numpy decode runs where the batch holds still) equal those of the per-request loop alone,
    and across the steps every position of every request is logged exactly once, with its phase
    (prefill below the prompt length), recomputed rows skipped."""
    rng = np.random.default_rng(5)
    fast, slow = vllm_glue._Session(None), vllm_glue._Session(None)
    prompt: dict[str, int] = {}
    done: dict[str, int] = {}  # computed positions per request
    running: list[str] = []
    waiting: list[str] = []  # preempted
    logged: dict[str, list[int]] = {}
    fast_steps = 0
    for step in range(3000):
        fast.steps = slow.steps = step
        r = rng.random()
        if len(running) < 12 and r < 0.08:
            rid = f"{len(prompt)}-{rng.integers(1 << 30):08x}"
            prompt[rid], done[rid] = int(rng.integers(1, 40)), 0
            running.insert(int(rng.integers(0, len(running) + 1)), rid)
        elif running and r < 0.11:
            done.pop(running.pop(int(rng.integers(len(running)))))
        elif running and r < 0.13:
            rid = running.pop(int(rng.integers(len(running))))
            done[rid] = int(rng.integers(0, done[rid] + 1)) // 4 * 4  # from 0 or a cached prefix
            waiting.append(rid)
        elif waiting and r < 0.16:
            running.append(waiting.pop(0))
        elif len(running) > 1 and r < 0.17:
            i, j = rng.integers(len(running), size=2)
            running[i], running[j] = running[j], running[i]
        if not running:
            continue
        computed = [done[rid] for rid in running]
        sched = [min(8, prompt[rid] - c) if c < prompt[rid] else 1 for rid, c in zip(running, computed, strict=True)]
        args = (running, computed, [prompt[rid] for rid in running], running + waiting)
        n = np.array(sched + [0] * 3, dtype=np.int32)
        before = fast.decode_run is not None
        got = [tuple(s) for s in vllm_glue._segments(fast, _runner(*args), n)]
        fast_steps += before and fast.decode_run is not None and len(got) == len(running)
        want = [
            tuple(s)
            for s in vllm_glue._segments_by_request(
                slow, _runner(*args), list(running), np.array(computed), n[: len(running)]
            )
        ]
        assert got == want, f"step {step}"
        for uid, first, m, phase in got:
            if phase != RECOMPUTED:
                logged.setdefault(uid, []).extend(range(first, first + m))
                rid = next(r for r in prompt if r.rpartition("-")[0] == uid)
                assert all((pos < prompt[rid]) == (phase == "prefill") for pos in range(first, first + m))
        for rid, m in zip(running, sched, strict=True):
            done[rid] += m
    assert fast_steps > 500  # the numpy path did run
    for uid, positions in logged.items():
        assert sorted(positions) == list(range(len(positions))), uid


def test_request_ids_without_random_suffix_are_kept_whole():
    """vLLM 0.20.2 with VLLM_DISABLE_REQUEST_ID_RANDOMIZATION: the engine's id is the user's
    (the OpenAI server's `cmpl-<id>-0`), so nothing is cut off it."""
    s = vllm_glue._Session(None)
    s.suffixed_ids = False
    segs = vllm_glue._segments(s, _runner(["cmpl-9f3a-0", "7"], [0, 3], [4, 3]), np.array([4, 1]))
    assert [x[0] for x in segs] == ["cmpl-9f3a-0", "7"]
    s2 = vllm_glue._Session(None)
    segs = vllm_glue._segments(s2, _runner(["cmpl-9f3a-0-1a2b3c4d"], [0], [4]), np.array([4]))
    assert [x[0] for x in segs] == ["cmpl-9f3a-0"]
