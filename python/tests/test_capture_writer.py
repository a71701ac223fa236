"""The writer process end to end with real arrays: JSONL content, float32 round trip,
.partial + rename on close, .partial kept when the engine goes away."""

import json
import os
import signal
import time

import numpy as np
import pytest
from moe_prof.capture import Segment
from moe_prof.capture.jsonl import format_meta, format_routes
from moe_prof.capture.writer_client import WriterClient, WriterError

LAYERS = [1, 3]
K = 4


def _arrays(n, seed):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 60, size=(n, len(LAYERS), K), dtype=np.int32)
    w = rng.random((n, len(LAYERS), K), dtype=np.float32)
    tok = rng.integers(0, 150000, size=n, dtype=np.int64)
    return ids, w, tok


def _wait_gone(pid, timeout=30.0):
    """The writer is detached (not our child): wait until its pid is gone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)
    raise AssertionError(f"writer {pid} still running")


def _read(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_round_trip_rows_positions_and_float32_weights(tmp_path):
    out = str(tmp_path / "routes.jsonl")
    w0 = WriterClient(out, format_meta({"model_id": "m", "top_k": K, "layers_logged": LAYERS}))
    segs0 = [Segment("0", 0, 3, "prefill"), Segment("1", 0, 2, "prefill")]
    ids0, wt0, tok0 = _arrays(5, 0)
    wt0[0, 0, 0] = np.float32(0.1)  # not exactly representable: must come back as the same float32
    wt0[0, 0, 1] = np.nextafter(np.float32(1.0), np.float32(0.0))
    w0.send_step(0, segs0, LAYERS, ids0, wt0, tok0)
    segs1 = [Segment("0", 3, 1, "decode"), Segment("1", 2, 1, "decode")]
    ids1, wt1, _ = _arrays(2, 1)
    w0.send_step(1, segs1, LAYERS, ids1, wt1, None)
    w0.flush()
    assert os.path.exists(out + ".partial") and not os.path.exists(out)
    assert w0.close() == out
    assert w0.close() == out  # idempotent
    assert not os.path.exists(out + ".partial")

    lines = _read(out)
    assert lines[0] == {"type": "meta", "model_id": "m", "top_k": K, "layers_logged": LAYERS}
    routes = lines[1:]
    assert len(routes) == (5 + 2) * len(LAYERS)
    # row-major: a token's layers together, rows in batch order
    r = routes[0]
    assert (r["req_id"], r["token_idx"], r["layer"], r["phase"], r["step"]) == ("0", 0, 1, "prefill", 0)
    assert r["topk_ids"] == ids0[0, 0].tolist() and r["token_id"] == int(tok0[0])
    got = np.array([x["topk_weights"] for x in routes[: 5 * len(LAYERS)]], dtype=np.float32)
    np.testing.assert_array_equal(got, wt0.reshape(-1, K))  # bit-exact float32
    keyed = {(x["req_id"], x["token_idx"], x["layer"]) for x in routes}
    assert keyed == {(q, t, l) for q, ts in (("0", range(4)), ("1", range(3))) for t in ts for l in LAYERS}
    last = routes[-1]
    assert (last["req_id"], last["token_idx"], last["layer"], last["phase"], last["step"]) == ("1", 2, 3, "decode", 1)
    assert "token_id" not in last
    assert last["topk_ids"] == ids1[1, 1].tolist()


def test_engine_gone_leaves_partial_only(tmp_path):
    out = str(tmp_path / "routes.jsonl")
    w = WriterClient(out, format_meta({"model_id": "m"}))
    ids, wt, tok = _arrays(2, 2)
    w.send_step(0, [Segment("0", 0, 2, "prefill")], LAYERS, ids, wt, tok)
    w.abandon()
    _wait_gone(w.pid)
    assert not os.path.exists(out)
    lines = _read(out + ".partial")
    assert len(lines) == 1 + 2 * len(LAYERS)


def test_missing_directory_is_one_clear_error(tmp_path):
    with pytest.raises(WriterError, match="does not exist"):
        WriterClient(str(tmp_path / "no" / "r.jsonl"), "{}\n")


def test_format_routes_rejects_mismatched_segments():
    ids, wt, tok = _arrays(3, 3)
    with pytest.raises(ValueError, match="segments cover 2 rows"):
        format_routes([("0", 0, 2, "prefill")], ids, wt, tok, LAYERS, 0)


def test_request_id_offset_applied_by_writer_and_int32_tokens(tmp_path):
    out = str(tmp_path / "routes.jsonl")
    w = WriterClient(out, format_meta({"model_id": "m"}))
    ids, wt, tok = _arrays(3, 4)
    segs = [Segment("27", 4, 1, "decode"), Segment("chat-1", 0, 2, "prefill")]
    w.send_step(9, segs, LAYERS, ids, wt, tok.astype(np.int32), req_id_offset=25)
    w.close()
    routes = _read(out)[1:]
    assert [(r["req_id"], r["token_idx"]) for r in routes[:: len(LAYERS)]] == [("2", 4), ("chat-1", 0), ("chat-1", 1)]
    assert [r["token_id"] for r in routes[:: len(LAYERS)]] == tok.tolist()


def test_send_block_rejects_non_contiguous_block(tmp_path):
    w = WriterClient(str(tmp_path / "r.jsonl"), format_meta({}))
    block = np.zeros((2, 2, 8), dtype=np.int32)[:, :, ::2]
    with pytest.raises(ValueError, match="C-contiguous"):
        w.send_block(0, [Segment("0", 0, 2, "prefill")], LAYERS, block, None)
    w.abandon()


def test_writer_outlives_its_engine_and_finishes_a_closed_log(tmp_path):
    """vLLM kills the engine process's tree at shutdown: a writer that already has the close
    frame must still complete the log. Here the writer is stopped (SIGSTOP) so close() cannot
    wait for it, the client gives up after its timeout, and the writer, continued, finishes."""
    out = str(tmp_path / "routes.jsonl")
    w = WriterClient(out, format_meta({"model_id": "m"}))
    ids, wt, tok = _arrays(4, 5)
    w.send_step(0, [Segment("0", 0, 4, "prefill")], LAYERS, ids, wt, tok)
    os.kill(w.pid, signal.SIGSTOP)
    try:
        assert w.close(timeout=0.3) is None  # still finishing
    finally:
        os.kill(w.pid, signal.SIGCONT)
    assert w.wait_closed(30) is True
    assert len(_read(out)) == 1 + 4 * len(LAYERS)


def test_writer_error_is_reported_not_hung(tmp_path):
    """A writer that cannot write (here: killed) is a WriterError at the next call, with no hang."""
    w = WriterClient(str(tmp_path / "r.jsonl"), format_meta({}))
    os.kill(w.pid, signal.SIGKILL)
    _wait_gone(w.pid)
    ids, wt, tok = _arrays(2, 6)
    with pytest.raises(WriterError, match="route writer is gone"):
        for step in range(64):  # the pipe buffer takes some frames before the write fails
            w.send_step(step, [Segment("0", 0, 2, "prefill")], LAYERS, ids, wt, tok)
        w.flush()


def test_recomputed_rows_are_not_written(tmp_path):
    out = str(tmp_path / "routes.jsonl")
    w = WriterClient(out, format_meta({}))
    ids, wt, tok = _arrays(5, 7)
    w.send_step(0, [Segment("0", 0, 2, "recomputed"), Segment("0", 2, 3, "prefill")], LAYERS, ids, wt, tok)
    w.close()
    routes = _read(out)[1:]
    assert [r["token_idx"] for r in routes[:: len(LAYERS)]] == [2, 3, 4]
    assert routes[0]["topk_ids"] == ids[2, 0].tolist()


def _parquet_footer_ok(path):
    """The file starts and ends with PAR1 and its footer length points inside it (the part a
    reader checks first); the rows themselves are compared with the JSONL by test/parquet.test.ts
    through an independent reader (hyparquet)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b"PAR1" and data[-4:] == b"PAR1"
    n = int.from_bytes(data[-8:-4], "little")
    assert 0 < n < len(data) - 12
    return data


def test_parquet_beside_jsonl_with_partial_and_rename(tmp_path):
    out = str(tmp_path / "routes.jsonl")
    w = WriterClient(out, format_meta({"model_id": "m", "top_k": K, "layers_logged": LAYERS}), "both")
    assert w.out_paths == [out, str(tmp_path / "routes.parquet")]
    ids, wt, tok = _arrays(5, 8)
    w.send_step(0, [Segment("0", 0, 2, "recomputed"), Segment("0", 2, 3, "prefill")], LAYERS, ids, wt, tok)
    w.flush()
    assert os.path.exists(out + ".partial") and os.path.exists(str(tmp_path / "routes.parquet.partial"))
    assert w.close() == out
    assert not os.path.exists(str(tmp_path / "routes.parquet.partial"))
    data = _parquet_footer_ok(str(tmp_path / "routes.parquet"))
    assert b"moe_prof.meta" in data and b'"model_id":"m"' in data
    assert len(_read(out)) == 1 + 3 * len(LAYERS)  # the JSONL is as before


def test_parquet_only_and_abandoned_parquet_stays_partial(tmp_path):
    out = str(tmp_path / "routes.jsonl")
    w = WriterClient(out, format_meta({"model_id": "m", "top_k": K, "layers_logged": LAYERS}), "parquet")
    assert w.out_path == str(tmp_path / "routes.parquet")
    ids, wt, tok = _arrays(2, 9)
    w.send_step(0, [Segment("0", 0, 2, "prefill")], LAYERS, ids, wt, tok)
    assert w.close() == str(tmp_path / "routes.parquet")
    assert not os.path.exists(out) and not os.path.exists(out + ".partial")
    _parquet_footer_ok(w.out_path)

    w2 = WriterClient(
        str(tmp_path / "b.jsonl"), format_meta({"model_id": "m", "top_k": K, "layers_logged": LAYERS}), "parquet"
    )
    w2.send_step(0, [Segment("0", 0, 2, "prefill")], LAYERS, ids, wt, tok)
    w2.abandon()
    _wait_gone(w2.pid)
    assert not os.path.exists(str(tmp_path / "b.parquet"))
    assert os.path.exists(str(tmp_path / "b.parquet.partial"))


def test_log_format_is_checked(tmp_path):
    from moe_prof.capture.env import resolve_settings
    from moe_prof.capture.parquet import log_paths

    assert resolve_settings({"VLLM_LOG_MOE": "1", "VLLM_LOG_MOE_FORMAT": "Parquet"}).log_format == "parquet"
    assert resolve_settings({"VLLM_LOG_MOE": "1"}).log_format == "jsonl"
    with pytest.raises(ValueError, match="VLLM_LOG_MOE_FORMAT"):
        resolve_settings({"VLLM_LOG_MOE": "1", "VLLM_LOG_MOE_FORMAT": "csv"})
    assert log_paths("/x/r.jsonl", "both") == ["/x/r.jsonl", "/x/r.parquet"]
    assert log_paths("/x/r", "parquet") == ["/x/r.parquet"]
    assert log_paths("/x/r.parquet", "parquet") == ["/x/r.parquet"]


def test_split_rows_against_row_by_row_expansion():
    """Chunks cover the rows in order, each at most the chunk size, and give every row the same
    (request, position, phase) as expanding the segments one row at a time."""
    from moe_prof.capture.jsonl import split_rows

    rng = np.random.default_rng(11)
    for _ in range(200):
        segs = [
            (str(i), int(rng.integers(0, 50)), int(rng.integers(1, 9)), ["prefill", "decode", "recomputed"][i % 3])
            for i in range(int(rng.integers(1, 8)))
        ]
        size = int(rng.integers(1, 10))
        rows = [(r, p + j, ph) for r, p, m, ph in segs for j in range(m)]
        chunks = split_rows(segs, size)
        got = []
        end = 0
        for r0, r1, part in chunks:
            assert r0 == end and 0 < r1 - r0 <= size and sum(m for _, _, m, _ in part) == r1 - r0
            got += [(r, p + j, ph) for r, p, m, ph in part for j in range(m)]
            end = r1
        assert end == len(rows) and got == rows


@pytest.mark.parametrize("procs", ["0", "3"])
def test_parallel_formatting_writes_the_same_bytes(tmp_path, monkeypatch, procs):
    """VLLM_LOG_MOE_FORMAT_PROCS=3: lines formatted in three processes, written in step order,
    byte for byte what format_routes gives on one thread (steps big enough to be cut in chunks)."""
    import moe_prof.capture.writer_proc as wp

    monkeypatch.setenv("VLLM_LOG_MOE_FORMAT_PROCS", procs)
    out = str(tmp_path / "routes.jsonl")
    meta = format_meta({"model_id": "m", "top_k": K, "layers_logged": LAYERS})
    w = WriterClient(out, meta)
    expected = [meta]
    rows = wp.CHUNK_LINES // len(LAYERS)
    for step, n in enumerate([3 * rows + 5, 4, rows, 7, 2 * rows - 1]):
        ids, wt, tok = _arrays(n, step)
        segs = [Segment("a", 0, 2, "recomputed"), Segment("a", 2, n - 3, "prefill"), Segment(str(step), 9, 1, "decode")]
        w.send_step(step, segs, LAYERS, ids, wt, tok)
        expected.append(format_routes(segs, ids, wt, tok, LAYERS, step))
        if step == 2:
            w.flush()  # a flush in between waits for the chunks in flight
            with open(out + ".partial", encoding="utf-8") as f:
                assert f.read() == "".join(expected)
    assert w.close() == out
    with open(out, encoding="utf-8") as f:
        assert f.read() == "".join(expected)


def test_format_procs_setting():
    from moe_prof.capture.env import resolve_settings
    from moe_prof.capture.jsonl import format_procs

    assert format_procs({}, 16) == 4 and format_procs({}, 2) == 0 and format_procs({}, None) == 0
    assert format_procs({"VLLM_LOG_MOE_FORMAT_PROCS": "6"}, 2) == 6
    for bad in ("-1", "two", "65"):
        with pytest.raises(ValueError, match="VLLM_LOG_MOE_FORMAT_PROCS"):
            resolve_settings({"VLLM_LOG_MOE": "/tmp/x.jsonl", "VLLM_LOG_MOE_FORMAT_PROCS": bad})


def test_formatter_processes_end_with_a_killed_writer(tmp_path, monkeypatch):
    """A writer killed outright (OOM killer, kill -9) leaves no formatter process behind."""
    monkeypatch.setenv("VLLM_LOG_MOE_FORMAT_PROCS", "2")
    w = WriterClient(str(tmp_path / "r.jsonl"), format_meta({}))

    def children(pid):
        with open(f"/proc/{pid}/task/{pid}/children", encoding="utf-8") as f:
            return [int(x) for x in f.read().split()]

    deadline = time.monotonic() + 10
    while len(kids := children(w.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(kids) == 2
    os.kill(w.pid, signal.SIGKILL)
    for kid in kids:
        _wait_gone(kid)
    w.abandon()
