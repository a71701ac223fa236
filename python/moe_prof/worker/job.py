"""The job a worker runs, as written by the TypeScript side into a JSON file.

Its schema is defined once, in src/worker/job.ts (zod); job.schema.json beside this file is
generated from it, and every job is checked against it here before anything loads. The Job
dataclass mirrors the schema's fields (python/tests checks they are the same names)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from moe_prof.worker.json_schema import problems

SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "job.schema.json")


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
    layers: list[int] | None  # MoE layers to log; None: all
    warmup_prompts: int
    warmup_max_tokens: int
    tensor_parallel_size: int
    gpu_memory_utilization: float
    max_model_len: int | None
    enforce_eager: bool
    deterministic: bool
    chat_template: bool
    random_weights: bool  # hf engine
    config_dir: str | None
    tokenizer: str | None
    dtype: str
    device: str  # "cuda" | "cpu" (hf engine)
    load_format: str  # vllm engine: "auto" | "dummy" (vLLM's random weights)
    engine_args: dict[str, Any]  # vllm engine: more vllm.LLM keyword arguments
    log_format: str = "jsonl"  # "jsonl" | "parquet" | "both" (VLLM_LOG_MOE_FORMAT); absent in a job: jsonl


def load_schema() -> dict[str, Any]:
    with open(SCHEMA_PATH, encoding="utf-8") as f:
        schema: dict[str, Any] = json.load(f)
    return schema


def parse_job(raw: Any, source: str) -> Job:
    found = problems(raw, load_schema())
    if found:
        raise JobError(f"{source}: {found[0]}" + (f" (and {len(found) - 1} more)" if len(found) > 1 else ""))
    return Job(**raw)


def load_job(path: str) -> Job:
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except (OSError, ValueError) as e:
        raise JobError(f"{path}: cannot read the job: {e}") from None
    return parse_job(raw, path)
