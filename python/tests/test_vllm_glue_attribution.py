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
