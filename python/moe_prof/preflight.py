"""`python -m moe_prof.preflight`: facts about this Python for `moe-prof run`'s checks, as one JSON line.

Never imports vllm (that needs the whole GPU stack); reads versions from package metadata.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import sys
from typing import Any


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def probe() -> dict[str, Any]:
    facts: dict[str, Any] = {
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "vllm": _version("vllm"),
        "transformers": _version("transformers"),
        "torch": _version("torch"),
        "cuda": None,
    }
    if facts["torch"] is None:
        return facts
    try:
        import torch

        cuda: dict[str, Any] = {"available": bool(torch.cuda.is_available()), "devices": []}
        if cuda["available"]:
            for i in range(torch.cuda.device_count()):
                free, total = torch.cuda.mem_get_info(i)
                cuda["devices"].append(
                    {"index": i, "name": torch.cuda.get_device_name(i), "free_bytes": free, "total_bytes": total}
                )
        facts["cuda"] = cuda
    except Exception as exc:  # a broken torch is a finding, not a crash
        facts["cuda"] = {"available": False, "devices": [], "error": str(exc).splitlines()[0][:300]}
    return facts


if __name__ == "__main__":
    sys.stdout.write(json.dumps(probe()) + "\n")
