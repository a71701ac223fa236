"""The job a worker runs, as written by the TypeScript side into a JSON file."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


class JobError(ValueError):
    pass


@dataclass(frozen=True)
class Job:
    engine: str  # "vllm" | "hf"
    pass_name: str  # "no_log" | "log"
    model: str
    prompts: list[str]  # raw user messages; the engine applies the chat template
    seed: int
    max_tokens: int
    temperature: float
    routes_path: str | None  # None: no-log pass
    layers: str | None = None  # "0,5-7"
    warmup_prompts: int = 2
    warmup_max_tokens: int = 16
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    max_model_len: int | None = None
    enforce_eager: bool = False
    deterministic: bool = False
    chat_template: bool = True
    # hf engine only
    random_weights: bool = False
    config_dir: str | None = None
    tokenizer: str | None = None
    dtype: str = "bfloat16"
    extra: dict[str, Any] = field(default_factory=dict)


_REQUIRED = ("engine", "pass_name", "model", "prompts", "seed", "max_tokens", "temperature", "routes_path")


def load_job(path: str) -> Job:
    with open(path, encoding="utf-8") as f:
        raw = json.load(f)
    if not isinstance(raw, dict):
        raise JobError(f"{path}: job must be a JSON object")
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise JobError(f"{path}: missing job fields: {', '.join(missing)}")
    if raw["engine"] not in ("vllm", "hf"):
        raise JobError(f"{path}: engine: expected 'vllm' or 'hf', got {raw['engine']!r}")
    if raw["pass_name"] not in ("no_log", "log"):
        raise JobError(f"{path}: pass_name: expected 'no_log' or 'log', got {raw['pass_name']!r}")
    prompts = raw["prompts"]
    if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
        raise JobError(f"{path}: prompts: expected a non-empty list of strings")
    known = set(Job.__dataclass_fields__)
    extra = {k: v for k, v in raw.items() if k not in known}
    return Job(**{k: v for k, v in raw.items() if k in known and k != "extra"}, extra=extra)
