"""The worker's JSON-lines protocol: one JSON object per line on a dedicated channel.

vLLM (and the libraries under it) print to stdout, so the worker keeps the original stdout
file descriptor for protocol messages only and points fd 1 at stderr for everything else,
including child processes (vLLM's engine core) that inherit it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import IO, Any

PROTOCOL_VERSION = 1


class Channel:
    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def send(self, msg_type: str, **fields: Any) -> None:
        msg = {"type": msg_type, "t": round(time.time(), 3), **fields}
        self._stream.write(json.dumps(msg, separators=(",", ":"), allow_nan=False) + "\n")
        self._stream.flush()


def claim_stdout() -> Channel:
    """Reserve the real stdout for protocol messages; route all other fd-1 output to stderr."""
    sys.stdout.flush()
    proto_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return Channel(os.fdopen(proto_fd, "w", buffering=1, encoding="utf-8"))
