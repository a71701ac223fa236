"""Per-release adapters: what the glue (vllm_glue.py) reads differently from one vLLM release's
objects to the next, and only that. The call sites themselves are the patch's (scripts/gen-vllm-patch.py
lists them per release). A patch carries this package with its own release's module only.

Each module defines:
    VERSION                      the release
    layer_pcp_size(layer) -> int prefill-context-parallel size a FusedMoE layer runs with
    layer_dp_rank(layer) -> int  its data-parallel rank (naive dispatch keeps this rank's rows)
    request_id_suffixed() -> bool whether the engine's request ids are `<user id>-<8 random chars>`
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
from types import ModuleType


def module_name(version: str) -> str:
    """ "0.20.2" (or "0.20.2+cu130") -> "v0_20_2" """
    return "v" + version.split("+", 1)[0].replace(".", "_")


def for_version(version: str) -> ModuleType:
    try:
        return importlib.import_module(f"{__name__}.{module_name(version)}")
    except ModuleNotFoundError:
        raise RuntimeError(f"moe-prof has no adapter for vLLM {version}") from None


@functools.cache
def installed() -> ModuleType:
    """The adapter of the vLLM this interpreter has (read from its metadata: importing vllm here
    would be a cycle, the glue is imported by vLLM's own modules)."""
    return for_version(importlib.metadata.version("vllm"))
