"""The cross-check's comparisons on recorded data: the routes log of an H100 run
(fixtures/recorded/hf-smoke-h100), reshaped into vLLM's routed_experts layout ([P+G-1, layers,
top_k] per request) as the oracle, then disturbed the ways a wrong attribution would."""

import copy
import os

import numpy as np
from moe_prof.crosscheck import against_routed_experts, between_logs, read_log, top1, top1_agreement

LOG = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "recorded", "hf-smoke-h100", "moe_routes.jsonl")


def _routed(log):
    """vLLM's layout from the log itself: one [positions, 24 layers, top_k] array per request."""
    out = {}
    for req, rows in log.rows.items():
        n = 1 + max(pos for pos, _ in rows)
        arr = np.zeros((n, 24, 4), dtype=np.int32)
        for (pos, layer), (ids, _) in rows.items():
            arr[pos, layer] = ids
        out[req] = arr
    return out


def test_a_faithful_log_matches_the_oracle_everywhere():
    log = read_log(LOG)
    rep = against_routed_experts(log, _routed(log))
    assert rep.ok and rep.compared == 6432 and rep.line().startswith("PASS")


def test_rows_shifted_by_one_position_are_caught():
    """The classic attribution bug: rows assigned to the neighbouring position."""
    log = read_log(LOG)
    oracle = _routed(log)
    shifted = {req: np.roll(arr, 1, axis=0) for req, arr in oracle.items()}
    rep = against_routed_experts(log, shifted)
    assert not rep.ok and rep.mismatched > 6000
    assert "request 0 position" in rep.examples[0]


def test_swapped_requests_and_missing_rows_are_caught():
    log = read_log(LOG)
    oracle = _routed(log)
    oracle["0"], oracle["1"] = oracle["1"], oracle["0"]
    assert against_routed_experts(log, oracle).mismatched > 0
    del log.rows["2"][(5, 7)]
    rep = against_routed_experts(log, _routed(read_log(LOG)))
    assert rep.missing == 1 and "request 2 position 5 layer 7: not in the log" in rep.examples


def test_two_logs_agree_bitwise_or_name_the_difference():
    a = read_log(LOG)
    b = copy.deepcopy(a)
    assert between_logs(a, b, ["0", "1", "2", "3"], "graph vs eager").ok
    ids, w = b.rows["3"][(10, 4)]
    b.rows["3"][(10, 4)] = (ids, (float(np.nextafter(np.float32(w[0]), np.float32(1))),) + w[1:])  # one ulp
    rep = between_logs(a, b, ["3"], "graph vs eager")
    assert rep.mismatched == 1 and rep.compared == len(a.rows["3"])


def test_top1_agreement_counts_rows_whose_heaviest_expert_agrees():
    log = read_log(LOG)
    ref = {}
    for req, rows in log.rows.items():
        n = 1 + max(pos for pos, _ in rows)
        arr = np.full((n, 24), -1, dtype=np.int64)
        for (pos, layer), row in rows.items():
            arr[pos, layer] = top1(row)
        ref[req] = arr
    assert top1_agreement(log, ref) == (6432, 6432)
    ref["0"][:, :] = -1
    agree, total = top1_agreement(log, ref)
    assert total == 6432 and agree == 6432 - len(log.rows["0"])
