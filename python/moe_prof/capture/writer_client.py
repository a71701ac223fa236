"""Engine-side handle on the writer process: sends raw arrays, never formats text itself.

Formatting ~600 JSONL lines per decode step in a thread of the engine process would hold the
GIL for milliseconds against vLLM's scheduler loop; a separate process costs the engine only a
pipe write of the raw bytes (os.write releases the GIL)."""
from __future__ import annotations

import marshal
import os
import subprocess
import sys
import threading
from typing import Sequence

import numpy as np

from .segments import Segment

_HEADER_FMT = "<II"
_WRITER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "writer_proc.py")


class WriterError(RuntimeError):
    pass


class WriterClient:
    def __init__(self, out_path: str, meta_line: str) -> None:
        import struct

        self._struct = struct.Struct(_HEADER_FMT)
        self.out_path = out_path
        self._lock = threading.Lock()
        self._seq = 0
        self._closed = False
        d = os.path.dirname(os.path.abspath(out_path))
        if not os.path.isdir(d):
            raise WriterError(f"VLLM_LOG_MOE: directory {d} does not exist")
        # A fresh interpreter (not fork): the engine process holds CUDA state and threads.
        self._proc = subprocess.Popen(
            [sys.executable, "-u", _WRITER, out_path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        try:  # Linux: a 1 MiB pipe absorbs a prefill step's bytes without blocking the engine
            import fcntl

            assert self._proc.stdin is not None
            fcntl.fcntl(self._proc.stdin.fileno(), 1031, 1 << 20)  # F_SETPIPE_SZ
        except (ImportError, OSError):
            pass
        self._send({"op": "meta", "line": meta_line})

    def _send(self, msg: dict[str, object], payload: Sequence[memoryview | bytes] = ()) -> None:
        if self._closed:
            raise WriterError("route writer already closed")
        if self._proc.poll() is not None:
            raise WriterError(f"route writer exited with code {self._proc.returncode}")
        # marshal: a few us for a step's header, vs tens for json (this runs on the engine's GIL)
        body = marshal.dumps(msg)
        plen = sum(len(p) for p in payload)
        assert self._proc.stdin is not None
        with self._lock:
            self._proc.stdin.write(self._struct.pack(len(body), plen) + body)
            for p in payload:
                self._proc.stdin.write(p)

    def send_block(
        self,
        step: int,
        segments: Sequence[Segment],
        layers: Sequence[int],
        block: np.ndarray,
        tokens: np.ndarray | None,
        req_id_offset: int = 0,
    ) -> None:
        """block: int32 [rows, layers, 2*top_k] = ids | float32 weight bits, contiguous (sent as is);
        tokens: [rows] int32/int64 or None. Numeric request ids are logged minus req_id_offset."""
        if block.dtype != np.int32 or not block.flags.c_contiguous or block.ndim != 3:
            raise ValueError("send_block: block must be a C-contiguous int32 [rows, layers, 2*top_k] array")
        payload = [memoryview(block).cast("B")]
        tok_dtype = None
        if tokens is not None:
            tokens = np.ascontiguousarray(tokens)
            tok_dtype = tokens.dtype.str
            payload.append(memoryview(tokens).cast("B"))
        msg = {
            "op": "step",
            "step": step,
            "shape": tuple(block.shape),
            "layers": tuple(layers),
            "tokens": tok_dtype,
            "offset": req_id_offset,
            "segments": [(s.req_id, s.first_pos, s.num_rows, s.phase) for s in segments],
        }
        self._send(msg, payload)

    def send_step(
        self,
        step: int,
        segments: Sequence[Segment],
        layers: Sequence[int],
        ids: np.ndarray,
        weights: np.ndarray,
        tokens: np.ndarray | None,
        req_id_offset: int = 0,
    ) -> None:
        """ids int32 [rows, layers, top_k], weights float32 of the same shape, tokens [rows] or None."""
        block = np.concatenate([np.asarray(ids, dtype=np.int32), np.asarray(weights, dtype=np.float32).view(np.int32)], axis=2)
        self.send_block(step, segments, [int(x) for x in layers], np.ascontiguousarray(block), tokens, req_id_offset)

    def _expect(self, prefix: str) -> str:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().decode().strip()
        if not line.startswith(prefix):
            code = self._proc.wait()
            raise WriterError(f"route writer: expected {prefix!r}, got {line!r} (exit code {code})")
        return line[len(prefix):].strip()

    def flush(self) -> None:
        """Returns once every step sent so far is written and fsynced to the .partial file."""
        self._seq += 1
        self._send({"op": "flush", "seq": self._seq})
        assert self._proc.stdin is not None
        with self._lock:
            self._proc.stdin.flush()
            self._expect("flushed")

    def close(self) -> str:
        """Flush, fsync, rename .partial -> out_path; idempotent. Returns out_path."""
        if self._closed:
            return self.out_path
        self._send({"op": "close"})
        assert self._proc.stdin is not None
        with self._lock:
            self._proc.stdin.flush()
            self._expect("closed")
            self._proc.stdin.close()
            self._closed = True
        self._proc.wait()
        return self.out_path

    def abandon(self) -> None:
        """Close the pipe without a close frame: the writer keeps the .partial (crash semantics)."""
        if not self._closed and self._proc.stdin is not None:
            self._closed = True
            try:
                self._proc.stdin.close()
            except OSError:
                pass
            self._proc.wait()
