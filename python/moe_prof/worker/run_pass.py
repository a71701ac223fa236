"""One pass: load the engine, warm up (not timed, not logged), run the measured generation."""

from __future__ import annotations

import os
import time
from typing import Any

from moe_prof.engines.base import Engine, ProgressFn
from moe_prof.worker.job import Job, load_job
from moe_prof.worker.protocol import Channel


def _make_engine(job: Job) -> Engine:
    if job.deterministic and job.device == "cuda":
        # cuBLAS reads this when its handle is created: before the engine touches CUDA.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if job.engine == "vllm":
        from moe_prof.engines.vllm_engine import VLLMEngine

        return VLLMEngine(job)
    import torch

    if job.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    from moe_prof.engines.hf_engine import HFEngine

    return HFEngine(job)


def _progress_sender(channel: Channel) -> ProgressFn:
    def send(done: int, total: int, tokens: int | None = None, tokens_at_most: int | None = None) -> None:
        counts = {} if tokens is None else {"tokens": tokens, "tokens_at_most": tokens_at_most}
        channel.send("progress", done=done, total=total, **counts)

    return send


def run_pass(job_path: str, channel: Channel) -> None:
    job = load_job(job_path)
    channel.send("phase", phase="load", pass_name=job.pass_name, engine=job.engine)
    t_start = time.perf_counter()
    engine = _make_engine(job)
    load_s = round(time.perf_counter() - t_start, 3)
    # Two load times, each named once: load_s is the whole load phase (importing torch and the
    # engine's libraries, then building the engine); engine_load_s the part the engine measures
    # itself (hf: config, weights, tokenizer; vLLM: `vllm.LLM(...)`), out of its description.
    description = engine.describe()
    engine_load_s = description.pop("load_s", None)
    channel.send("ready", pass_name=job.pass_name, engine=description, load_s=load_s, engine_load_s=engine_load_s)

    prompts = engine.encode_prompts(job.prompts, job.chat_template)
    channel.send("phase", phase="warmup", requests=min(job.warmup_prompts, len(prompts)))
    t0 = time.perf_counter()
    if job.warmup_prompts > 0:
        engine.generate(prompts[: job.warmup_prompts], job.warmup_max_tokens, None)
    warmup_s = time.perf_counter() - t0

    if engine.route_log is not None:
        engine.route_log.resume()
    channel.send("phase", phase="generate", total=len(prompts))
    gen = engine.generate(prompts, job.max_tokens, _progress_sender(channel))
    routes: dict[str, Any] | None = engine.route_log.close() if engine.route_log is not None else None
    channel.send(
        "result",
        pass_name=job.pass_name,
        generate_s=round(gen.generate_s, 6),
        warmup_s=round(warmup_s, 3),
        prompt_token_counts=[len(p) for p in gen.prompt_token_ids],
        output_token_ids=gen.output_token_ids,
        finish_reasons=gen.finish_reasons,
        num_cached_tokens=gen.num_cached_tokens,
        max_tokens=job.max_tokens,
        routes=routes,
        notes=gen.notes,
    )
    engine.shutdown()
