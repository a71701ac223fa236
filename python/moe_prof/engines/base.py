"""What every engine gives the worker: load, generate with progress, and one route log.

Lifecycle of a log pass's route log: the engine opens it when it is made (paused: vLLM reads
VLLM_LOG_MOE* when its engine starts; transformers hooks the model once loaded), the worker
resumes it once after the untimed warm-up, and closes it once after the measured generation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class ProgressFn(Protocol):
    """Reports generation progress: requests finished of `total`, and where the engine sees them,
    output tokens generated so far and at most (each finished request's tokens plus max_tokens
    for each unfinished one: the total once the last request finishes). An engine that sees only
    finished requests (vLLM's LLM.generate calls its tqdm per finished request) leaves the token
    counts out."""

    def __call__(self, done: int, total: int, tokens: int | None = None, tokens_at_most: int | None = None) -> None: ...


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
