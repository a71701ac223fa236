"""moe_prof.importers: vLLM routed_experts arrays and SGLang per_token dumps into route rows,
checked row by row against an expectation built from the arrays directly."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from moe_prof.importers import ImportError_
from moe_prof.importers.__main__ import main

K, L, E = 2, 5, 8
DENSE = {0, 3}  # vLLM writes nothing there: zeros


def _routed(rng: np.random.Generator, n: int) -> np.ndarray:
    arr = np.zeros((n, L, K), dtype=np.int32)
    for p in range(n):
        for layer in range(L):
            if layer not in DENSE:
                arr[p, layer] = rng.permutation(E)[:K]
    return arr


def _read(path: str) -> tuple[dict, list[dict]]:
    with open(path, encoding="utf-8") as f:
        lines = [json.loads(x) for x in f]
    return lines[0], lines[1:]


def test_vllm_npz_rows_are_the_arrays_moe_layers(tmp_path) -> None:
    rng = np.random.default_rng(3)
    reqs = {"0": _routed(rng, 7), "1": _routed(rng, 4)}
    np.savez(tmp_path / "routed.npz", **reqs)
    out = str(tmp_path / "out.jsonl")
    assert main(["vllm-routed-experts", str(tmp_path / "routed.npz"), "--out", out, "--model-id", "m"]) == 0
    meta, rows = _read(out)
    assert meta["layers_logged"] == [1, 2, 4] and meta["top_k"] == K and meta["num_layers"] == L
    assert meta["weights_logged"] is False and meta["imported_from"] == "vllm-routed-experts"
    want = {
        (rid, p, layer): arr[p, layer].tolist()
        for rid, arr in reqs.items()
        for p in range(arr.shape[0])
        for layer in range(L)
        if layer not in DENSE
    }
    got = {(r["req_id"], r["token_idx"], r["layer"]): r["topk_ids"] for r in rows}
    assert got == want and len(rows) == len(want)
    assert all("topk_weights" not in r for r in rows)


def test_vllm_npy_files_and_refusals(tmp_path) -> None:
    rng = np.random.default_rng(4)
    np.save(tmp_path / "a.npy", _routed(rng, 3))
    out = str(tmp_path / "o.jsonl")
    assert main(["vllm-routed-experts", str(tmp_path / "a.npy"), "--out", out, "--layers", "1,2"]) == 0
    _, rows = _read(out)
    assert {r["req_id"] for r in rows} == {"a"} and {r["layer"] for r in rows} == {1, 2}
    np.save(tmp_path / "flat.npy", np.zeros((3, 4), dtype=np.int32))
    with pytest.raises(ImportError_, match=r"flat\.npy: shape \[3, 4\]: expected 3 axes"):
        from moe_prof.importers import vllm_routed

        vllm_routed.load_requests([str(tmp_path / "flat.npy")])
    # a layer named by --layers that is dense: its zeros repeat an expert
    assert main(["vllm-routed-experts", str(tmp_path / "a.npy"), "--out", out, "--layers", "0,1"]) == 1
    assert not os.path.exists(str(tmp_path / f".o.jsonl.{os.getpid()}.tmp"))


def _sglang_dump(path: str, torch) -> tuple[list[dict], np.ndarray]:
    """Two passes: an extend of sequences of 3 and 2 tokens, then a decode of 2 tokens; physical
    ids (E + 2 redundant) mapped back by a non-trivial map."""
    rng = np.random.default_rng(5)
    P = E + 2
    p2l = np.array([[(p * 3 + layer) % E for p in range(P)] for layer in range(L)])
    for layer in range(L):  # every logical expert has a physical slot
        p2l[layer, :E] = rng.permutation(E)
    recs = []
    for pass_id, (lens, positions, mode) in enumerate([([3, 2], [0, 1, 2, 0, 1], 1), (None, [3, 2], 2)]):
        n = len(positions)
        ids = np.full((L, n, 8), -1, dtype=np.int32)
        for layer in range(L):
            if layer in DENSE:
                continue
            for t in range(n):
                ids[layer, t, :K] = rng.permutation(P)[:K]
        recs.append(
            dict(
                forward_pass_id=pass_id + 10,
                rank=0,
                gatherer_key="primary",
                input_ids=[100 + t for t in range(n)],
                positions=positions,
                extend_seq_lens=lens,
                forward_mode=mode,
                topk_ids_of_layer=torch.from_numpy(ids),
                misc_objects=[],
                global_physical_count=torch.zeros((L, P), dtype=torch.int32),
            )
        )
    torch.save({"records": recs, "last_physical_to_logical_map": torch.from_numpy(p2l)}, path)
    return recs, p2l


def test_sglang_per_token_dump(tmp_path) -> None:
    torch = pytest.importorskip("torch")
    dump = str(tmp_path / "expert_distribution_recorder_1.0_0.pt")
    recs, p2l = _sglang_dump(dump, torch)
    out = str(tmp_path / "s.jsonl")
    assert main(["sglang-expert-distribution-per-token", dump, "--out", out]) == 0
    meta, rows = _read(out)
    assert meta["layers_logged"] == [1, 2, 4] and meta["top_k"] == K and meta["num_experts"] == E
    assert meta["num_layers"] == L and meta["engine"] == "sglang"
    want = {}
    for rec in recs:
        ids = rec["topk_ids_of_layer"].numpy()
        seqs = [(0, 3), (3, 2)] if rec["extend_seq_lens"] else [(0, 1), (1, 1)]
        for s, (start, n) in enumerate(seqs):
            for t in range(start, start + n):
                for layer in (1, 2, 4):
                    key = (f"{rec['forward_pass_id']}:{s}", rec["positions"][t], layer)
                    phase = "prefill" if rec["forward_mode"] == 1 else "decode"
                    want[key] = ([int(p2l[layer, x]) for x in ids[layer, t, :K]], rec["forward_pass_id"], phase)
    got = {(r["req_id"], r["token_idx"], r["layer"]): (r["topk_ids"], r["step"], r["phase"]) for r in rows}
    assert got == want


def test_sglang_stat_and_per_pass_dumps_are_refused(tmp_path, capsys) -> None:
    torch = pytest.importorskip("torch")
    stat = str(tmp_path / "stat.pt")
    torch.save({"rank": 0, "logical_count": torch.zeros((3, L, E)), "average_utilization_rate_over_window": None}, stat)
    assert main(["sglang-expert-distribution-per-token", stat, "--out", str(tmp_path / "x.jsonl")]) == 1
    assert "a `stat` dump (logical_count) holds expert counts, not per-token expert ids" in capsys.readouterr().err
    per_pass = str(tmp_path / "per_pass.pt")
    rec = {"forward_pass_id": 0, "rank": 0, "gatherer_key": "primary", "global_physical_count": torch.zeros((L, E))}
    torch.save({"records": [rec], "last_physical_to_logical_map": torch.zeros((L, E), dtype=torch.int64)}, per_pass)
    assert main(["sglang-expert-distribution-per-token", per_pass, "--out", str(tmp_path / "x.jsonl")]) == 1
    assert "records[0]: no topk_ids_of_layer: a `per_pass` dump" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "x.jsonl")
