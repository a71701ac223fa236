"""Engine-side handle on the writer process: sends raw arrays, never formats text itself.

Formatting ~600 JSONL lines per decode step in a thread of the engine process would hold the
GIL for milliseconds against vLLM's scheduler loop; a separate process costs the engine only a
pipe write of the raw bytes (os.write releases the GIL). The writer is detached from the engine's
process tree (see writer_proc.py), so it is not our child: it is known by its pid and its pipes."""

from __future__ import annotations

import marshal
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

import numpy as np

from .parquet import log_paths
from .segments import Segment

_HEADER_FMT = "<II"
_WRITER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "writer_proc.py")
_START_TIMEOUT_S = 60.0  # a fresh interpreter importing numpy; seconds on a loaded machine


class WriterError(RuntimeError):
    pass


class WriterClient:
    def __init__(self, out_path: str, meta_line: str, log_format: str = "jsonl") -> None:
        """log_format: jsonl (out_path), parquet (out_path as .parquet) or both; `out_path`
        becomes the main file (the Parquet one for parquet), `out_paths` all of them."""
        import struct

        self._struct = struct.Struct(_HEADER_FMT)
        self.out_paths = log_paths(out_path, log_format)
        self.out_path = self.out_paths[0]
        self._lock = threading.Lock()
        self._seq = 0
        self._closed = False
        self._close_sent = False
        d = os.path.dirname(os.path.abspath(out_path))
        if not os.path.isdir(d):
            raise WriterError(f"VLLM_LOG_MOE: directory {d} does not exist")
        # A fresh interpreter (not fork): the engine process holds CUDA state and threads.
        proc = subprocess.Popen(
            [sys.executable, "-u", _WRITER, out_path, "--detach", "--format", log_format],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        proc.wait()  # the launcher forks the writer and exits at once
        assert proc.stdin is not None and proc.stdout is not None
        self._stdin = proc.stdin
        self._stdout = proc.stdout
        try:  # Linux: a 1 MiB pipe absorbs a prefill step's bytes without blocking the engine
            import fcntl

            fcntl.fcntl(self._stdin.fileno(), 1031, 1 << 20)  # F_SETPIPE_SZ
        except (ImportError, OSError):
            pass
        ready = self._reply(_START_TIMEOUT_S)
        if not ready.startswith("ready "):
            self._stdin.close()
            raise WriterError(f"route writer did not start: {ready or 'no answer'}")
        self.pid = int(ready.split()[1])
        self._send({"op": "meta", "line": meta_line})

    def _reply(self, timeout: float | None) -> str:
        """One line from the writer, '' at EOF; TimeoutError after `timeout` seconds."""
        if timeout is not None:
            ready, _, _ = select.select([self._stdout], [], [], timeout)
            if not ready:
                raise TimeoutError
        return self._stdout.readline().decode(errors="replace").strip()

    def _send(self, msg: dict[str, object], payload: Sequence[memoryview | bytes] = ()) -> None:
        # marshal: a few us for a step's header, vs tens for json (this runs on the engine's GIL)
        self._send_body(marshal.dumps(msg), payload)

    def _send_body(self, body: bytes, payload: Sequence[memoryview | bytes] = ()) -> None:
        if self._closed:
            raise WriterError("route writer already closed")
        plen = sum(len(p) for p in payload)
        try:
            with self._lock:
                self._stdin.write(self._struct.pack(len(body), plen) + body)
                for p in payload:
                    self._stdin.write(p)
        except (BrokenPipeError, ValueError) as e:
            raise WriterError(f"route writer is gone ({self._last_words()})") from e

    def _last_words(self) -> str:
        """What a writer that stopped reading said last (an 'error ...' line), if anything."""
        try:
            line = self._reply(0.5)
        except (TimeoutError, OSError, ValueError):
            return "no message"
        return line or "exited"

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
            "segments": segments if type(segments) is list else list(segments),
        }
        try:  # plain tuples (the glue's decode steps) go as they are: 256 segments, ~40 us less
            body = marshal.dumps(msg)
        except ValueError:  # Segment is a tuple subclass, which marshal refuses
            msg["segments"] = [tuple(s) for s in segments]
            body = marshal.dumps(msg)
        self._send_body(body, payload)

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
        block = np.concatenate(
            [np.asarray(ids, dtype=np.int32), np.asarray(weights, dtype=np.float32).view(np.int32)], axis=2
        )
        self.send_block(step, segments, [int(x) for x in layers], np.ascontiguousarray(block), tokens, req_id_offset)

    def _expect(self, prefix: str, timeout: float | None) -> str:
        line = self._reply(timeout)
        if not line.startswith(prefix):
            raise WriterError(f"route writer: {line or 'exited without an answer'}")
        return line[len(prefix) :].strip()

    def flush(self) -> None:
        """Returns once every step sent so far is written and fsynced to the .partial file."""
        self._seq += 1
        self._send({"op": "flush", "seq": self._seq})
        try:
            with self._lock:
                self._stdin.flush()
                self._expect("flushed", None)
        except (BrokenPipeError, ValueError) as e:
            raise WriterError(f"route writer is gone ({self._last_words()})") from e

    def close(self, timeout: float | None = None) -> str | None:
        """Send the close frame; the writer writes what it holds, fsyncs and renames .partial ->
        out_path. Waits for that at most `timeout` seconds (None: as long as it takes) and
        returns out_path, or None if the writer is still finishing: it does so on its own, even
        after this process ends. Idempotent."""
        if self._closed:
            return self.out_path
        if not self._close_sent:
            self._send({"op": "close"})
            self._close_sent = True
            try:
                with self._lock:
                    self._stdin.flush()
            except (BrokenPipeError, ValueError) as e:
                raise WriterError(f"route writer is gone ({self._last_words()})") from e
        try:
            self._expect("closed", timeout)
        except TimeoutError:
            return None
        self._closed = True
        self._stdin.close()
        return self.out_path

    def wait_closed(self, timeout: float) -> bool:
        """After close() returned None: True once the writer has renamed the log."""
        deadline = time.monotonic() + timeout
        while not self._closed and time.monotonic() < deadline:
            if self.close(max(0.0, deadline - time.monotonic())) is not None:
                return True
        return self._closed

    def abandon(self) -> None:
        """Close the pipe without a close frame: the writer keeps the .partial (crash semantics)."""
        if not self._closed:
            self._closed = True
            try:
                self._stdin.close()
            except OSError:
                pass
