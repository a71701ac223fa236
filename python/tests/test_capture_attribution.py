import numpy as np
import pytest
from moe_prof.capture import (
    Segment,
    expand_segments,
    parse_layer_spec,
    select_layers,
    shift_request_id,
    split_by_phase,
    user_request_id,
)


def test_user_request_id_strips_vllm_suffix_only_once():
    assert user_request_id("12-a1b2c3d4") == "12"
    assert user_request_id("chat-7-a1b2c3d4") == "chat-7"
    assert user_request_id("plain") == "plain"


def test_shift_request_id_numeric_only():
    assert shift_request_id("27", 25) == "2"
    assert shift_request_id("chat-7", 25) == "chat-7"
    assert shift_request_id("3", 0) == "3"


def test_split_by_phase_prefill_chunk_decode_and_straddling_recompute():
    assert split_by_phase("0", 0, 7, 10) == [Segment("0", 0, 7, "prefill")]
    assert split_by_phase("0", 7, 3, 10) == [Segment("0", 7, 3, "prefill")]
    assert split_by_phase("0", 12, 1, 10) == [Segment("0", 12, 1, "decode")]
    # preempted request recomputed from 8 through 13: prompt rows 8,9 then output rows 10..13
    assert split_by_phase("4", 8, 6, 10) == [Segment("4", 8, 2, "prefill"), Segment("4", 10, 4, "decode")]


def test_expand_segments_columns():
    names, req, pos, phase = expand_segments(
        [Segment("3", 5, 1, "decode"), Segment("9", 0, 3, "prefill"), Segment("3", 6, 1, "decode")]
    )
    assert names == ["3", "9"]
    np.testing.assert_array_equal(req, [0, 1, 1, 1, 0])
    np.testing.assert_array_equal(pos, [5, 0, 1, 2, 6])
    np.testing.assert_array_equal(phase, [1, 0, 0, 0, 1])


def test_writer_formatting_rejects_bad_phase():
    from moe_prof.capture.jsonl import format_routes

    ids = np.zeros((1, 1, 2), dtype=np.int32)
    with pytest.raises(ValueError, match="phase 'warmup'"):
        format_routes([Segment("0", 0, 1, "warmup")], ids, ids.astype(np.float32), None, [0], 0)


def test_parse_layer_spec():
    assert parse_layer_spec("0,5-7") == [0, 5, 6, 7]
    assert parse_layer_spec(" 3 , 1-2,2") == [1, 2, 3]
    for bad in ["", "a", "3-1", "1,,2", "-2"]:
        with pytest.raises(ValueError, match="layer spec"):
            parse_layer_spec(bad)


def test_select_layers_checks_against_model():
    assert select_layers([0, 1, 2, 3], None) == [0, 1, 2, 3]
    assert select_layers([0, 1, 2, 3], [3, 1]) == [1, 3]
    with pytest.raises(ValueError, match=r"\[7\]"):
        select_layers([0, 1, 2, 3], [1, 7])
