"""What every engine gives the worker: load, generate with progress, and one route log.

Lifecycle of a log pass's route log: the engine opens it when it is made (paused: vLLM reads
VLLM_LOG_MOE* when its engine starts; transformers hooks the model once loaded), the worker
resumes it once after the untimed warm-up, and closes it once after the measured generation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

ProgressFn = Callable[[int, int], None]  # (requests done, total)


@dataclass
class Generation:
    prompt_token_ids: list[list[int]]
    output_token_ids: list[list[int]]
    generate_s: float
    finish_reasons: list[str | None] = field(default_factory=list)  # "stop" | "length" per request
    # prompt tokens served from vLLM's prefix cache (never computed, so never logged)
    num_cached_tokens: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class RouteLog(Protocol):
    def resume(self) -> None:
        """Log the requests of the next generate() (request ids from 0)."""

    def close(self) -> dict[str, Any]:
        """Complete the log: {"path": final path, "stats": capture statistics}. Raises
        RouteLogError with the engine's reason when nothing (complete) was logged."""


class RouteLogError(RuntimeError):
    pass


class Engine(Protocol):
    route_log: RouteLog | None  # None for the no-log pass

    def describe(self) -> dict[str, Any]: ...

    def encode_prompts(self, messages: list[str], chat_template: bool) -> list[list[int]]: ...

    def generate(self, prompts: list[list[int]], max_tokens: int, progress: ProgressFn | None) -> Generation: ...

    def shutdown(self) -> None: ...
