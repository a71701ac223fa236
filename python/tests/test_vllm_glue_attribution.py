"""The vLLM glue's step attribution against a runner-shaped object with real numpy arrays."""
from types import SimpleNamespace

import numpy as np
import pytest

from moe_prof import vllm_glue
from moe_prof.capture import Segment


class RecordingCapture:
    def __init__(self, paused=False):
        self.paused = paused
        self.calls = []

    def begin_step(self, segments, num_real_rows, input_ids):
        self.calls.append((list(segments), num_real_rows, input_ids))


@pytest.fixture
def cap(monkeypatch):
    c = RecordingCapture()
    monkeypatch.setattr(vllm_glue, "_cap", c)
    return c


def _runner(req_ids, computed, prompt):
    ib = SimpleNamespace(
        req_ids=req_ids,
        num_computed_tokens_cpu=np.array(computed + [0] * 4, dtype=np.int32),  # persistent arrays are longer
        num_prompt_tokens=np.array(prompt + [0] * 4, dtype=np.int32),
    )
    return SimpleNamespace(input_batch=ib)


def test_mixed_step_prefill_chunk_decode_and_recompute(cap):
    runner = _runner(["0-abcd1234", "1-ffff0000", "2-00000000"], [5, 0, 8], [5, 12, 10])
    sched = np.array([1, 4, 6], dtype=np.int32)
    vllm_glue.begin_step(runner, sched, 11, None)
    segs, n, _ = cap.calls[0]
    assert n == 11
    assert segs == [
        Segment("0", 5, 1, "decode"),
        Segment("1", 0, 4, "prefill"),
        Segment("2", 8, 2, "prefill"),
        Segment("2", 10, 4, "decode"),
    ]


def test_paused_or_absent_capture_records_nothing(monkeypatch):
    c = RecordingCapture(paused=True)
    monkeypatch.setattr(vllm_glue, "_cap", c)
    vllm_glue.begin_step(_runner(["0-x"], [0], [3]), np.array([3]), 3, None)
    assert c.calls == []
    monkeypatch.setattr(vllm_glue, "_cap", None)
    vllm_glue.begin_step(_runner(["0-x"], [0], [3]), np.array([3]), 3, None)  # no capture: no-op


def test_control_without_capture_reports_inactive(monkeypatch):
    monkeypatch.setattr(vllm_glue, "_cap", None)
    monkeypatch.setattr(vllm_glue, "_disabled_reason", None)
    assert vllm_glue.control(object(), "stats")["active"] is False


def test_control_says_why_logging_was_turned_off(monkeypatch):
    monkeypatch.setattr(vllm_glue, "_cap", ClosingCapture())
    monkeypatch.setattr(vllm_glue, "_disabled_reason", None)
    vllm_glue._disable("speculative decoding is not supported")
    answer = vllm_glue.control(object(), "close")
    assert answer == {"active": False, "enabled": vllm_glue.ENABLED, "disabled_reason": "speculative decoding is not supported"}


class ClosingCapture:
    """Stand-in for RouteCapture at shutdown: records whether the log was renamed or kept."""

    out_path = "/tmp/x/moe_routes.jsonl"

    def __init__(self):
        self.ended = None

    def close(self):
        self.ended = "closed"
        return self.out_path

    def abandon(self):
        self.ended = "abandoned"


def _worker(n_requests):
    return SimpleNamespace(model_runner=SimpleNamespace(requests={str(i): object() for i in range(n_requests)}))


@pytest.mark.parametrize(
    ("requests_left", "exc", "ended"),
    [
        (0, None, "closed"),  # clean shutdown after all requests finished
        (0, SystemExit, "closed"),  # vLLM's SIGTERM handler: the usual clean end
        (3, SystemExit, "abandoned"),  # client died mid-generation: same exception, requests left
        (0, RuntimeError, "abandoned"),  # engine failing
    ],
)
def test_shutdown_renames_only_a_complete_log(monkeypatch, requests_left, exc, ended):
    c = ClosingCapture()
    monkeypatch.setattr(vllm_glue, "_cap", c)
    if exc is None:
        vllm_glue.on_shutdown(_worker(requests_left))
    else:
        try:
            raise exc()
        except BaseException:
            vllm_glue.on_shutdown(_worker(requests_left))
    assert c.ended == ended
    assert vllm_glue._cap is None
