"""Route rows as a Parquet file, from numpy arrays, with no dependency beyond numpy.

Standalone on purpose (stdlib + numpy, no package-relative imports), like jsonl.py: the writer
process loads this file by path. Why not pyarrow: it is not in vLLM's venv (requirements-lock.txt)
and the writer runs there; this writes one fixed schema with the plainest encodings every Parquet
reader takes (PLAIN values, RLE/bit-packed levels, data page v1, no compression), which numpy
produces at millions of rows per second.

Schema (one row per route line; the same as `moe-prof export --format parquet`):
  req_id        string (BYTE_ARRAY UTF8), required
  token_idx     int64, required
  layer         int32, required
  topk_ids      list<int32> (required list of required elements), top_k entries
  topk_weights  list<float> (float32, the router's values), top_k entries
  phase         string, optional
  token_id      int64, optional
  step          int64, optional
File key-value metadata: `moe_prof.meta` = the JSONL meta line (a JSON object with "type": "meta").
Rows are buffered and written as row groups of ROW_GROUP_ROWS rows (bounded memory); the footer is
written by close(). A file without its footer (a crash) is not a Parquet file: readers refuse it,
as the rules refuse a `.partial` JSONL."""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from typing import BinaryIO

import numpy as np

META_KEY = "moe_prof.meta"
ROW_GROUP_ROWS = 1 << 16
MAGIC = b"PAR1"

# Parquet enums (parquet.thrift)
_INT32, _INT64, _FLOAT, _DOUBLE, _BYTE_ARRAY = 1, 2, 4, 5, 6
_REQUIRED, _OPTIONAL, _REPEATED = 0, 1, 2
_UTF8, _LIST = 0, 3
_PLAIN, _RLE = 0, 3
_DATA_PAGE = 0
_UNCOMPRESSED = 0

# Thrift compact protocol type ids
_T_I32, _T_I64, _T_BINARY, _T_LIST, _T_STRUCT = 5, 6, 8, 9, 12


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _zigzag(n: int) -> int:
    return (n << 1) ^ (n >> 63)


class _Struct:
    """A Thrift compact-protocol struct, fields added in increasing id order."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.last = 0

    def _head(self, fid: int, ttype: int) -> None:
        delta = fid - self.last
        if 0 < delta <= 15:
            self.buf.append((delta << 4) | ttype)
        else:
            self.buf.append(ttype)
            self.buf += _varint(_zigzag(fid))
        self.last = fid

    def i32(self, fid: int, v: int) -> _Struct:
        self._head(fid, _T_I32)
        self.buf += _varint(_zigzag(v))
        return self

    def i64(self, fid: int, v: int) -> _Struct:
        self._head(fid, _T_I64)
        self.buf += _varint(_zigzag(v))
        return self

    def string(self, fid: int, v: str | bytes) -> _Struct:
        b = v.encode("utf-8") if isinstance(v, str) else v
        self._head(fid, _T_BINARY)
        self.buf += _varint(len(b)) + b
        return self

    def struct(self, fid: int, s: _Struct) -> _Struct:
        self._head(fid, _T_STRUCT)
        self.buf += s.done()
        return self

    def list(self, fid: int, etype: int, items: Sequence[object]) -> _Struct:
        self._head(fid, _T_LIST)
        n = len(items)
        self.buf += bytes([(n << 4) | etype]) if n < 15 else bytes([0xF0 | etype]) + _varint(n)
        for it in items:
            if etype == _T_STRUCT:
                self.buf += it.done()  # type: ignore[attr-defined]
            elif etype == _T_BINARY:
                b = it.encode("utf-8") if isinstance(it, str) else it  # type: ignore[union-attr]
                self.buf += _varint(len(b)) + b  # type: ignore[arg-type]
            else:
                self.buf += _varint(_zigzag(int(it)))  # type: ignore[call-overload]
        return self

    def done(self) -> bytes:
        return bytes(self.buf) + b"\x00"


def _rle_run(count: int, value: int) -> bytes:
    """One RLE run of `count` copies of a 0/1 level (bit width 1)."""
    return _varint(count << 1) + bytes([value])


def _levels(bits: np.ndarray) -> bytes:
    """0/1 levels (bit width 1) in the RLE/bit-packed hybrid, prefixed by their byte length."""
    n = int(bits.shape[0])
    if n == 0:
        body = b""
    elif bits.min() == bits.max():
        body = _rle_run(n, int(bits[0]))
    else:
        # One bit-packed run per 2^20 groups of 8 values (LSB first), the last group zero-padded.
        packed = np.packbits(bits.astype(np.uint8), bitorder="little").tobytes()
        parts = []
        step = 1 << 20
        for g0 in range(0, len(packed), step):
            chunk = packed[g0 : g0 + step]
            parts.append(_varint((len(chunk) << 1) | 1) + chunk)
        body = b"".join(parts)
    return struct.pack("<I", len(body)) + body


def _byte_arrays(values: Sequence[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(v)) + v for v in values)


class _Column:
    def __init__(self, path: list[str], ptype: int, max_rep: int, max_def: int) -> None:
        self.path = path
        self.ptype = ptype
        self.max_rep = max_rep
        self.max_def = max_def


_SCHEMA_COLUMNS = [
    _Column(["req_id"], _BYTE_ARRAY, 0, 0),
    _Column(["token_idx"], _INT64, 0, 0),
    _Column(["layer"], _INT32, 0, 0),
    _Column(["topk_ids", "list", "element"], _INT32, 1, 1),
    _Column(["topk_weights", "list", "element"], _FLOAT, 1, 1),
    _Column(["phase"], _BYTE_ARRAY, 0, 1),
    _Column(["token_id"], _INT64, 0, 1),
    _Column(["step"], _INT64, 0, 1),
]


def _schema() -> list[_Struct]:
    def el(name: str, **kw: int) -> _Struct:
        s = _Struct()
        if "type" in kw:
            s.i32(1, kw["type"])
        s.i32(3, kw.get("rep", _REQUIRED))
        s.string(4, name)
        if "children" in kw:
            s.i32(5, kw["children"])
        if "converted" in kw:
            s.i32(6, kw["converted"])
        if "logical" in kw:  # LogicalType union: 1 STRING, 3 LIST (empty structs)
            s.struct(10, _Struct().struct(kw["logical"], _Struct()))
        return s

    out = [el("schema", children=8)]
    out.append(el("req_id", type=_BYTE_ARRAY, converted=_UTF8, logical=1))
    out.append(el("token_idx", type=_INT64))
    out.append(el("layer", type=_INT32))
    for name, ptype in (("topk_ids", _INT32), ("topk_weights", _FLOAT)):
        out.append(el(name, children=1, converted=_LIST, logical=3))
        out.append(el("list", rep=_REPEATED, children=1))
        out.append(el("element", type=ptype))
    out.append(el("phase", type=_BYTE_ARRAY, rep=_OPTIONAL, converted=_UTF8, logical=1))
    out.append(el("token_id", type=_INT64, rep=_OPTIONAL))
    out.append(el("step", type=_INT64, rep=_OPTIONAL))
    return out


class ParquetRouteWriter:
    """Appends route rows (numpy columns) to a Parquet file; close() writes the footer."""

    def __init__(self, f: BinaryIO, meta_line: str, top_k: int, row_group_rows: int = ROW_GROUP_ROWS) -> None:
        meta = json.loads(meta_line)
        if not isinstance(meta, dict) or meta.get("type") != "meta":
            raise ValueError("parquet writer: the meta line must be a JSON object with type 'meta'")
        self.f = f
        self.meta_line = meta_line.strip()
        self.k = int(top_k)
        self.row_group_rows = row_group_rows
        self.offset = 0
        self.row_groups: list[_Struct] = []
        self.num_rows = 0
        self._parts: list[dict[str, object]] = []
        self._buffered = 0
        self._write(MAGIC)

    def _write(self, b: bytes) -> None:
        self.f.write(b)
        self.offset += len(b)

    def append(
        self,
        req_runs: Sequence[tuple[str, int]],
        token_idx: np.ndarray,
        layer: np.ndarray,
        ids: np.ndarray,
        weights: np.ndarray,
        phase_runs: Sequence[tuple[str | None, int]],
        token_id: np.ndarray | None,
        step: np.ndarray | None,
    ) -> None:
        """n rows. req_runs / phase_runs: (value, count) runs covering the n rows in order (phase
        None = absent); token_idx, layer: n ints; ids int32 [n, k]; weights float32 [n, k];
        token_id, step: n ints, or None for rows without them."""
        n = int(np.asarray(token_idx).shape[0])
        if ids.shape != (n, self.k) or weights.shape != (n, self.k):
            raise ValueError(f"parquet writer: ids {ids.shape}, weights {weights.shape}, {n} rows, top_k {self.k}")
        if sum(c for _, c in req_runs) != n or sum(c for _, c in phase_runs) != n:
            raise ValueError("parquet writer: runs do not cover the rows")
        if n == 0:
            return
        # Runs are encoded at once: a request's rows share one req_id (bytes repeated at C speed).
        req_plain = b"".join(_byte_arrays([r.encode("utf-8")]) * c for r, c in req_runs)
        ph_present = np.concatenate([np.full(c, v is not None) for v, c in phase_runs])
        ph_plain = b"".join(_byte_arrays([v.encode("utf-8")]) * c for v, c in phase_runs if v is not None)
        self._parts.append(
            {
                "n": n,
                "req": req_plain,
                "ph_present": ph_present,
                "ph": ph_plain,
                "token_idx": np.asarray(token_idx, dtype="<i8"),
                "layer": np.asarray(layer, dtype="<i4"),
                "ids": np.ascontiguousarray(ids, dtype="<i4"),
                "weights": np.ascontiguousarray(weights, dtype="<f4"),
                "token_id": None if token_id is None else np.asarray(token_id, dtype="<i8"),
                "step": None if step is None else np.asarray(step, dtype="<i8"),
            }
        )
        self._buffered += n
        if self._buffered >= self.row_group_rows:
            self._flush_group()

    def _flush_group(self) -> None:
        if self._buffered == 0:
            return
        parts = self._parts
        n = self._buffered
        self._parts = []
        self._buffered = 0
        k = self.k

        def cat(key: str) -> np.ndarray:
            return np.concatenate([p[key] for p in parts])  # type: ignore[misc]

        def optional(key: str) -> bytes:
            present = np.concatenate([np.full(p["n"], p[key] is not None) for p in parts])  # type: ignore[call-overload]
            vals = b"".join(p[key].tobytes() for p in parts if p[key] is not None)  # type: ignore[union-attr]
            return _levels(present) + vals

        list_levels = _levels(np.tile(np.r_[0, np.ones(k - 1)].astype(np.uint8), n)) + _levels(np.ones(n * k, np.uint8))
        cols = _SCHEMA_COLUMNS
        pages: list[tuple[_Column, int, bytes]] = [
            (cols[0], n, b"".join(p["req"] for p in parts)),  # type: ignore[misc]
            (cols[1], n, cat("token_idx").tobytes()),
            (cols[2], n, cat("layer").tobytes()),
            (cols[3], n * k, list_levels + cat("ids").tobytes()),
            (cols[4], n * k, list_levels + cat("weights").tobytes()),
            (cols[5], n, _levels(cat("ph_present")) + b"".join(p["ph"] for p in parts)),  # type: ignore[misc]
            (cols[6], n, optional("token_id")),
            (cols[7], n, optional("step")),
        ]
        chunks = []
        start = self.offset
        for col, num_values, data in pages:
            header = (
                _Struct()
                .i32(1, _DATA_PAGE)
                .i32(2, len(data))
                .i32(3, len(data))
                .struct(5, _Struct().i32(1, num_values).i32(2, _PLAIN).i32(3, _RLE).i32(4, _RLE))
                .done()
            )
            page_offset = self.offset
            self._write(header)
            self._write(data)
            size = len(header) + len(data)
            meta = (
                _Struct()
                .i32(1, col.ptype)
                .list(2, _T_I32, [_PLAIN, _RLE])
                .list(3, _T_BINARY, col.path)
                .i32(4, _UNCOMPRESSED)
                .i64(5, num_values)
                .i64(6, size)
                .i64(7, size)
                .i64(9, page_offset)
            )
            chunks.append(_Struct().i64(2, page_offset).struct(3, meta))
        total = self.offset - start
        self.row_groups.append(_Struct().list(1, _T_STRUCT, chunks).i64(2, total).i64(3, n).i64(5, start).i64(6, total))
        self.num_rows += n

    def close(self) -> None:
        """Writes what is buffered and the footer (the file is readable only after this)."""
        self._flush_group()
        kv = [_Struct().string(1, META_KEY).string(2, self.meta_line)]
        footer = (
            _Struct()
            .i32(1, 1)
            .list(2, _T_STRUCT, _schema())
            .i64(3, self.num_rows)
            .list(4, _T_STRUCT, self.row_groups)
            .list(5, _T_STRUCT, kv)
            .string(6, "moe-prof capture (python/moe_prof/capture/parquet.py)")
        ).done()
        self._write(footer)
        self._write(struct.pack("<I", len(footer)))
        self._write(MAGIC)


FORMATS = ("jsonl", "parquet", "both")


def log_paths(out_path: str, fmt: str) -> list[str]:
    """The files a capture writes for VLLM_LOG_MOE=out_path in format fmt, the main one first:
    jsonl: out_path; parquet: out_path with .jsonl replaced by .parquet (or .parquet added, unless
    it already ends so); both: the two."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if out_path.endswith(".parquet"):
        pq = out_path
    elif out_path.endswith(".jsonl"):
        pq = out_path[: -len(".jsonl")] + ".parquet"
    else:
        pq = out_path + ".parquet"
    return {"jsonl": [out_path], "parquet": [pq], "both": [out_path, pq]}[fmt]


def append_step(
    w: ParquetRouteWriter,
    segments: Sequence[tuple[str, int, int, str]],
    ids: np.ndarray,
    weights: np.ndarray,
    tokens: np.ndarray | None,
    layers: Sequence[int],
    step: int,
    skip_phase: str,
) -> None:
    """One engine step, in the row order of the JSONL (for each row in batch order, one row per
    logged layer). segments: (req_id, first_pos, num_rows, phase); rows of segments whose phase is
    `skip_phase` (jsonl.RECOMPUTED: a preempted request's recompute, logged the first time) are not written.
    ids: int32 [rows, len(layers), top_k]; weights: float32 of the same shape; tokens: [rows] or None."""
    n, nl, k = ids.shape
    if weights.shape != ids.shape or nl != len(layers):
        raise ValueError(f"route arrays: ids {ids.shape}, weights {weights.shape}, {len(layers)} layers")
    if sum(s[2] for s in segments) != n:
        raise ValueError(f"segments cover {sum(s[2] for s in segments)} rows but the step has {n}")
    req_runs: list[tuple[str, int]] = []
    phase_runs: list[tuple[str | None, int]] = []
    keep: list[np.ndarray] = []
    pos: list[np.ndarray] = []
    row = 0
    for req_id, first_pos, num_rows, phase in segments:
        if phase != skip_phase:
            if phase not in ("prefill", "decode"):
                raise ValueError(f"segment of request {req_id!r}: phase {phase!r} is not prefill or decode")
            req_runs.append((str(req_id), num_rows * nl))
            phase_runs.append((phase, num_rows * nl))
            keep.append(np.arange(row, row + num_rows))
            pos.append(np.arange(first_pos, first_pos + num_rows))
        row += num_rows
    if not keep:
        return
    idx = np.concatenate(keep)
    m = int(idx.shape[0])
    w.append(
        req_runs,
        np.repeat(np.concatenate(pos), nl),
        np.tile(np.asarray(layers, dtype=np.int32), m),
        ids[idx].reshape(m * nl, k),
        weights[idx].reshape(m * nl, k),
        phase_runs,
        None if tokens is None else np.repeat(np.asarray(tokens)[idx], nl),
        np.full(m * nl, step, dtype=np.int64),
    )
