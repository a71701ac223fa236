"""What every engine gives the worker: load, warm up, generate with progress, capture control."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

ProgressFn = Callable[[int, int], None]  # (requests done, total)


@dataclass
class Generation:
    prompt_token_ids: list[list[int]]
    output_token_ids: list[list[int]]
    generate_s: float
    finish_reasons: list[str | None] = field(default_factory=list)  # "stop" | "length" per request
    notes: list[str] = field(default_factory=list)


class Engine(Protocol):
    def describe(self) -> dict[str, Any]: ...

    def generate(self, prompts: list[list[int]], max_tokens: int, progress: ProgressFn | None) -> Generation: ...

    def open_capture(self, routes_path: str, layers: list[int] | None, max_rows: int) -> None: ...

    def requests_submitted(self) -> int: ...

    def start_capture(self, requests_before: int) -> None: ...

    def finish_capture(self) -> dict[str, Any] | None: ...

    def encode_prompts(self, messages: list[str], chat_template: bool) -> list[list[int]]: ...

    def shutdown(self) -> None: ...
