"""The route writer process: turns raw step arrays into JSONL lines off the engine's GIL.

Run as a script (`python writer_proc.py OUT_PATH`) by WriterClient; it reads frames from stdin
and writes `OUT_PATH.partial`, renamed to OUT_PATH only on an explicit close. If its stdin ends
without a close (the engine died), the `.partial` stays: an incomplete log is never presented
as a complete one. Imports only stdlib, numpy and the sibling jsonl.py (loaded by path)."""
from __future__ import annotations

import marshal
import os
import signal
import struct
import sys
from typing import BinaryIO

import numpy as np

HEADER = struct.Struct("<II")  # header length (marshal), payload length


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


def main(out_path: str) -> int:
    # Ctrl-C reaches the whole process group; the engine decides when the log ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import jsonl  # noqa: E402  (sibling file, see module docstring)

    partial = out_path + ".partial"
    inp = sys.stdin.buffer
    reply = sys.stdout
    with open(partial, "w", encoding="utf-8", buffering=1 << 20) as f:
        while True:
            head = _read_exact(inp, HEADER.size)
            if head is None:
                f.flush()
                return 3  # engine went away without close: leave the .partial
            jlen, plen = HEADER.unpack(head)
            msg = marshal.loads(_read_exact(inp, jlen) or marshal.dumps({}))
            payload = _read_exact(inp, plen) if plen else b""
            op = msg.get("op")
            if op == "meta":
                f.write(msg["line"])
            elif op == "step":
                n, nl, k2 = msg["shape"]
                k = k2 // 2
                cnt = n * nl * k2
                block = np.frombuffer(payload, dtype=np.int32, count=cnt).reshape(n, nl, k2)
                ids = block[..., :k]
                w = block[..., k:].view(np.float32)
                tok = None
                if msg["tokens"] is not None:
                    tok = np.frombuffer(payload, dtype=np.dtype(msg["tokens"]), count=n, offset=4 * cnt)
                off = msg["offset"]
                segs = [
                    (str(int(r) - off) if off and r.isdigit() else r, p0, m, ph) for r, p0, m, ph in msg["segments"]
                ]
                f.write(jsonl.format_routes(segs, ids, w, tok, msg["layers"], msg["step"]))
            elif op == "flush":
                f.flush()
                os.fsync(f.fileno())
                reply.write(f"flushed {msg['seq']}\n")
                reply.flush()
            elif op == "close":
                f.flush()
                os.fsync(f.fileno())
                break
            else:
                reply.write(f"error unknown op {op!r}\n")
                reply.flush()
                return 2
    os.replace(partial, out_path)
    _fsync_dir(out_path)
    reply.write(f"closed {out_path}\n")
    reply.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
