"""The route writer process: turns raw step arrays into JSONL lines off the engine's GIL.

Run as a script (`python writer_proc.py OUT_PATH [--detach] [--format jsonl|parquet|both]`) by
WriterClient; it reads frames from stdin and writes `OUT_PATH.partial` (JSONL), and/or the Parquet
file beside it (parquet.py's log_paths), each renamed to its final name only on an explicit close.
If its stdin ends without a close (the engine died), the `.partial` files stay: an incomplete log
is never presented as a complete one. Imports only stdlib, numpy and the sibling jsonl.py and
parquet.py (loaded by path).

Two threads: one reads frames off the pipe as fast as they come (so the engine never waits on a
full pipe while lines are being formatted), the main thread formats and writes them in order.
`--detach`: the process forks once and the parent exits, so the writer is no longer a child of
the engine process. vLLM ends its engine-core process by SIGTERM and, 5 s later, kills its whole
process tree; a detached writer that already holds the close frame finishes the log and renames
it even then. It stays in the engine's process group, so a Ctrl-C of the group still stops it."""

from __future__ import annotations

import json
import marshal
import os
import signal
import struct
import sys
import threading
from collections import deque
from types import ModuleType
from typing import Any, BinaryIO, TextIO

import numpy as np

HEADER = struct.Struct("<II")  # header length (marshal), payload length
QUEUE_LIMIT = 1 << 30  # bytes of frames held while formatting lags; beyond it the engine waits


def _read_exact(f: BinaryIO, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = f.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def _fsync_dir(path: str) -> None:
    fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Frames:
    """Frames read by the reader thread, handed to the formatter in order; None = end of input."""

    def __init__(self) -> None:
        self._items: deque[tuple[dict, bytes] | None] = deque()
        self._bytes = 0
        self._cv = threading.Condition()

    def put(self, item: tuple[dict, bytes] | None) -> None:
        size = len(item[1]) if item is not None else 0
        with self._cv:
            while item is not None and self._bytes > QUEUE_LIMIT:
                self._cv.wait()
            self._items.append(item)
            self._bytes += size
            self._cv.notify_all()

    def get(self) -> tuple[dict, bytes] | None:
        with self._cv:
            while not self._items:
                self._cv.wait()
            item = self._items.popleft()
            self._bytes -= len(item[1]) if item is not None else 0
            self._cv.notify_all()
            return item


def _read_frames(inp: BinaryIO, frames: _Frames) -> None:
    while True:
        head = _read_exact(inp, HEADER.size)
        if head is None:
            break
        jlen, plen = HEADER.unpack(head)
        body = _read_exact(inp, jlen)
        payload = _read_exact(inp, plen) if plen else b""
        if body is None or payload is None:
            break
        msg = marshal.loads(body)
        frames.put((msg, payload))
        if msg.get("op") == "close":
            break
    frames.put(None)


def _step_arrays(msg: dict, payload: bytes) -> tuple[np.ndarray, np.ndarray | None, list[tuple[str, int, int, str]]]:
    n, nl, k2 = msg["shape"]
    cnt = n * nl * k2
    block = np.frombuffer(payload, dtype=np.int32, count=cnt).reshape(n, nl, k2)
    tok = None
    if msg["tokens"] is not None:
        tok = np.frombuffer(payload, dtype=np.dtype(msg["tokens"]), count=n, offset=4 * cnt)
    off = msg["offset"]
    segs = [(str(int(r) - off) if off and r.isdigit() else r, p0, m, ph) for r, p0, m, ph in msg["segments"]]
    return block, tok, segs


CHUNK_LINES = 8192  # lines one formatter process gets at a time: a 4,096-row prefill step is ~12 chunks


def _ids_weights(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A step block's [rows, layers, 2k] int32 -> ids [.., k] and float32 weights [.., k] (views)."""
    k = block.shape[2] // 2
    return block[..., :k], block[..., k:].view(np.float32)


def _format_chunk(
    segs: list[tuple[str, int, int, str]], block: np.ndarray, tok: np.ndarray | None, layers: list[int], step: int
) -> str:
    """In a formatter process: one chunk's lines (the jsonl module is the parent's, by fork)."""
    return _JSONL.format_routes(segs, *_ids_weights(block), tok, layers, step)


def _quiet_worker() -> None:
    """Formatter processes hold neither the frame pipe nor the reply pipe: when the writer ends,
    the engine sees the reply pipe close at once. (A killed writer's formatters end by themselves:
    each closed its task queue's write end, so they read end of file.)"""
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)


_JSONL: ModuleType  # set in main() before the formatter processes fork


class _Out:
    """Where steps go: the JSONL text file, the Parquet writer, or both. With a pool, JSONL chunks
    are formatted in other processes and written here in order; flush and close wait for them."""

    def __init__(
        self,
        text: TextIO | None,
        pq_file: BinaryIO | None,
        jsonl: ModuleType,
        parquet: ModuleType,
        pool: Any = None,
        procs: int = 1,
    ) -> None:
        self.text = text
        self.pq_file = pq_file
        self.pq = None  # made at the meta frame: it needs top_k
        self.jsonl = jsonl
        self.parquet = parquet
        self.pool = pool
        self.max_pending = 4 * procs  # chunks in flight: every process busy, memory bounded
        self.pending: deque[Any] = deque()

    def meta(self, line: str) -> None:
        if self.text is not None:
            self.text.write(line)
        if self.pq_file is not None:
            self.pq = self.parquet.ParquetRouteWriter(self.pq_file, line, int(json.loads(line)["top_k"]))

    def step(self, msg: dict, payload: bytes) -> None:
        block, tok, segs = _step_arrays(msg, payload)
        ids, weights = _ids_weights(block)
        if self.text is not None:
            if self.pool is None:
                self.text.write(self.jsonl.format_routes(segs, ids, weights, tok, msg["layers"], msg["step"]))
            else:
                self._submit(segs, block, tok, list(msg["layers"]), msg["step"])
        if self.pq is not None:
            self.parquet.append_step(
                self.pq, segs, ids, weights, tok, msg["layers"], msg["step"], self.jsonl.RECOMPUTED
            )

    def _submit(self, segs: list, block: np.ndarray, tok: np.ndarray | None, layers: list[int], step: int) -> None:
        rows = max(1, CHUNK_LINES // max(1, len(layers)))
        for r0, r1, part in self.jsonl.split_rows(segs, rows):
            t = tok[r0:r1] if tok is not None else None
            self.pending.append(self.pool.apply_async(_format_chunk, (part, block[r0:r1], t, layers, step)))
        while self.pending and (len(self.pending) > self.max_pending or self.pending[0].ready()):
            self.text.write(self.pending.popleft().get())  # type: ignore[union-attr]

    def drain(self) -> None:
        """Every chunk submitted so far written, in order."""
        while self.pending:
            self.text.write(self.pending.popleft().get())  # type: ignore[union-attr]

    def flush(self) -> None:
        self.drain()
        for f in (self.text, self.pq_file):
            if f is not None:
                f.flush()
                os.fsync(f.fileno())

    def close(self) -> None:
        """Footer (Parquet), flush and fsync; the caller renames."""
        self.drain()
        if self.pq is not None:
            self.pq.close()
        self.flush()


def _format_until_close(out: _Out, frames: _Frames, reply: TextIO) -> bool:
    """Write frames in order; True at a close frame, False when the input ended without one."""
    while True:
        item = frames.get()
        if item is None:
            out.drain()
            for f in (out.text, out.pq_file):
                if f is not None:
                    f.flush()
            return False
        msg, payload = item
        op = msg.get("op")
        if op == "meta":
            out.meta(msg["line"])
        elif op == "step":
            out.step(msg, payload)
        elif op == "flush":
            out.flush()
            reply.write(f"flushed {msg['seq']}\n")
            reply.flush()
        elif op == "close":
            out.close()
            return True
        else:
            raise ValueError(f"route writer: unknown op {op!r}")


def main(out_path: str, detach: bool, fmt: str = "jsonl") -> int:
    # Ctrl-C reaches the whole process group; the engine decides when the log ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if detach and os.fork() != 0:
        os._exit(0)  # the parent returns at once; the child carries on with the same pipes
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import jsonl
    import parquet

    global _JSONL
    _JSONL = jsonl
    reply = sys.stdout
    try:
        paths = parquet.log_paths(out_path, fmt)
    except ValueError as e:
        reply.write(f"error {e}\n")
        reply.flush()
        return 2
    jsonl_path = out_path if fmt in ("jsonl", "both") else None
    pq_path = paths[-1] if fmt in ("parquet", "both") else None
    opened: list = []
    try:
        text = open(jsonl_path + ".partial", "w", encoding="utf-8", buffering=1 << 20) if jsonl_path else None
        if text is not None:
            opened.append(text)
        pq_file = open(pq_path + ".partial", "wb", buffering=1 << 20) if pq_path else None
        if pq_file is not None:
            opened.append(pq_file)
    except OSError as e:
        reply.write(f"error cannot write {e.filename}: {e.strerror}\n")
        reply.flush()
        return 2
    pool = None
    try:  # the engine checked the variable at start (env.py): a bad value never gets here
        procs = jsonl.format_procs(os.environ, jsonl.usable_cores()) if text is not None else 0
    except ValueError:
        procs = 0
    if procs > 1:
        import multiprocessing

        # fork before any thread exists (the reader thread starts below)
        pool = multiprocessing.get_context("fork").Pool(procs, initializer=_quiet_worker)
    reply.write(f"ready {os.getpid()}\n")
    reply.flush()
    frames = _Frames()
    threading.Thread(target=_read_frames, args=(sys.stdin.buffer, frames), daemon=True).start()
    partial = paths[0] + ".partial"
    try:
        try:
            if not _format_until_close(_Out(text, pq_file, jsonl, parquet, pool, procs), frames, reply):
                return 3  # engine went away without close: leave the .partial
        finally:
            if pool is not None:
                pool.terminate()
                pool.join()
            for f in opened:
                f.close()
        for p in paths:
            partial = p + ".partial"
            os.replace(partial, p)
        _fsync_dir(paths[0])
    except OSError as e:  # disk full, file too large, ...: the .partial stays, the engine is told
        try:
            reply.write(f"error writing {partial}: {e.strerror or e}\n")
            reply.flush()
        except BrokenPipeError:
            pass
        return 2
    try:
        reply.write(f"closed {paths[0]}\n")
        reply.flush()
    except BrokenPipeError:
        pass  # the engine is gone (shut down while we finished): the log is complete anyway
    return 0


if __name__ == "__main__":
    rest = sys.argv[2:]
    fmt = rest[rest.index("--format") + 1] if "--format" in rest else "jsonl"
    code = main(sys.argv[1], "--detach" in rest, fmt)
    os._exit(code)  # no flush of a reply pipe the engine may have closed
