"""The vLLM engine: offline `LLM.generate` on a vLLM install (0.15.1 or 0.20.2) carrying the moe-prof patch.

The patch's capture lives in vLLM's engine-core process; VLLMRouteLog steers it through
`LLM.collective_rpc("moe_prof_control", ...)` on every GPU worker: resume logging once the warm-up
is done (warm-up requests consumed request ids, so their count is passed as the offset) and
close the log (flush, rename `.partial`) before the engine shuts down.
"""

from __future__ import annotations

import os
import time
from typing import Any

from moe_prof.engines.base import Generation, ProgressFn, RouteLogError
from moe_prof.engines.chat import encode_messages
from moe_prof.engines.moe_layers import check_layers, moe_layers_of_config
from moe_prof.worker.job import Job


def configure_env(job: Job) -> None:
    """Environment the patched vLLM reads at engine start; must run before vllm is imported."""
    if job.routes_path:
        os.environ["VLLM_LOG_MOE"] = job.routes_path
        os.environ["VLLM_LOG_MOE_PAUSED"] = "1"  # warm-up is not logged
        os.environ["VLLM_LOG_MOE_FORMAT"] = job.log_format
        if job.layers:
            os.environ["VLLM_LOG_MOE_LAYERS"] = ",".join(str(x) for x in job.layers)
        else:
            os.environ.pop("VLLM_LOG_MOE_LAYERS", None)
    else:
        for k in ("VLLM_LOG_MOE", "VLLM_LOG_MOE_PAUSED", "VLLM_LOG_MOE_LAYERS", "VLLM_LOG_MOE_FORMAT"):
            os.environ.pop(k, None)
    if job.deterministic:
        # vLLM's batch-invariant mode: deterministic kernels for matmul/softmax/reductions.
        os.environ["VLLM_BATCH_INVARIANT"] = "1"


class VLLMRouteLog:
    """The patched engine's capture, steered through `LLM.collective_rpc("moe_prof_control")` on
    every worker: it opened paused at engine start (VLLM_LOG_MOE_PAUSED)."""

    def __init__(self, llm: Any) -> None:
        self._llm = llm

    def _control(self, action: str, *args: Any) -> list[dict[str, Any]]:
        # `moe_prof_control` is the Worker method the patch adds (gpu_worker.py); a method name
        # travels to the engine process without pickling a function.
        return list(self._llm.collective_rpc("moe_prof_control", args=(action, *args)))

    def resume(self) -> None:
        # warm-up requests consumed request ids (vLLM's counter is never reset): offset them
        self._check(self._control("resume", int(self._llm.request_counter.counter)))

    def close(self) -> dict[str, Any]:
        stats = self._check(self._control("close"))
        return {"path": str(stats["out_path"]), "stats": stats}

    @staticmethod
    def _check(answers: list[dict[str, Any]]) -> dict[str, Any]:
        writers = [r for r in answers if r.get("active")]
        if len(writers) == 1:
            return writers[0]
        if writers:
            raise RouteLogError(f"{len(writers)} vLLM workers wrote route logs; expected one (TP rank 0)")
        reasons = sorted({str(r["disabled_reason"]) for r in answers if r.get("disabled_reason")})
        if reasons:
            raise RouteLogError(f"vLLM did not log routes: {'; '.join(reasons)}")
        if not any(r.get("enabled") for r in answers):
            raise RouteLogError(
                "VLLM_LOG_MOE did not reach vLLM's workers: is the moe-prof patch applied to this vLLM?"
            )
        raise RouteLogError("no vLLM worker is capturing routes")


class _Progress:
    """tqdm stand-in that LLM.generate accepts as `use_tqdm`: reports finished requests."""

    def __init__(self, report: ProgressFn | None) -> None:
        self._report = report

    def __call__(self, iterable: Any = None, total: int | None = None, **_: Any) -> _Bar:
        return _Bar(iterable, total, self._report if iterable is None else None)


class _Bar:
    def __init__(self, iterable: Any, total: int | None, report: ProgressFn | None) -> None:
        self._iterable = iterable
        self.total = total or 0
        self.n = 0
        self.postfix = ""
        self._t0 = time.perf_counter()
        self._report = report

    def __iter__(self) -> Any:
        return iter(self._iterable)

    @property
    def format_dict(self) -> dict[str, float]:
        return {"elapsed": max(time.perf_counter() - self._t0, 1e-9)}

    def update(self, n: int = 1) -> None:
        self.n += n
        if self._report:
            self._report(self.n, self.total)

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass


def deterministic_problem(quant_method: str | None, vllm_version: str) -> str | None:
    """Why --deterministic cannot run this model on this vLLM, or None. vLLM 0.20.2's batch-invariant
    mode (VLLM_BATCH_INVARIANT) has no quantized MoE kernel: its GPTQ-Marlin / Marlin experts refuse
    batch invariance, and the engine fails deep in load with "No WNA16 MoE backend supports the
    deployment configuration" (seen on an H200, 2026-12-03)."""
    if quant_method and not vllm_version.startswith("0.15."):
        return (
            f"--deterministic: vLLM {vllm_version}'s batch-invariant mode has no MoE kernel for "
            f"{quant_method} weights; run without --deterministic (the passes are still compared), "
            "or use an unquantized model"
        )
    return None


def _quant_method(job: Job) -> str | None:
    """The checkpoint's quantization method from its config.json (None: unquantized or unknown)."""
    from transformers import AutoConfig

    try:
        cfg = AutoConfig.from_pretrained(
            job.model, trust_remote_code=bool(job.engine_args.get("trust_remote_code", False))
        )
    except Exception:
        return None
    q = getattr(cfg, "quantization_config", None)
    method = q.get("quant_method") if isinstance(q, dict) else getattr(q, "quant_method", None)
    return str(method) if method else None


def _moe_layers_before_load(job: Job) -> list[int] | None:
    """The model's MoE layers from its config.json alone (None when the family does not say)."""
    from transformers import AutoConfig

    try:
        cfg = AutoConfig.from_pretrained(
            job.model, trust_remote_code=bool(job.engine_args.get("trust_remote_code", False))
        )
    except Exception:  # vLLM reports a model it cannot read better than we could here
        return None
    return moe_layers_of_config(cfg)


class VLLMEngine:
    def __init__(self, job: Job) -> None:
        if job.layers is not None:
            check_layers(job.layers, _moe_layers_before_load(job))
        if job.deterministic:
            import importlib.metadata

            problem = deterministic_problem(_quant_method(job), importlib.metadata.version("vllm"))
            if problem:
                raise RouteLogError(problem)
        configure_env(job)
        t0 = time.perf_counter()
        from vllm import LLM

        kwargs: dict[str, Any] = dict(
            model=job.model,
            seed=job.seed,
            tensor_parallel_size=job.tensor_parallel_size,
            gpu_memory_utilization=job.gpu_memory_utilization,
            enforce_eager=job.enforce_eager,
            enable_prefix_caching=False,  # every prompt token is computed, so rows are P + G - 1
        )
        if job.max_model_len:
            kwargs["max_model_len"] = job.max_model_len
        if job.load_format != "auto":
            kwargs["load_format"] = job.load_format  # "dummy": random weights, config.json + tokenizer suffice
        if job.deterministic:
            kwargs["attention_backend"] = "FLASH_ATTN"  # batch-invariant mode requires it
        kwargs.update(job.engine_args)  # --engine-args: the user's word is last
        self.llm = LLM(**kwargs)
        self.load_s = time.perf_counter() - t0
        self.job = job
        self.route_log: VLLMRouteLog | None = VLLMRouteLog(self.llm) if job.routes_path else None

    def describe(self) -> dict[str, Any]:
        import torch
        import vllm

        cfg = self.llm.llm_engine.vllm_config
        return {
            "engine": "vllm",
            "model_id": self.job.model,
            "vllm_version": vllm.__version__,
            "torch_version": torch.__version__,
            "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "unknown",
            "quantization": cfg.model_config.quantization,
            "enforce_eager": cfg.model_config.enforce_eager,
            "cudagraph_mode": str(cfg.compilation_config.cudagraph_mode),
            "tensor_parallel_size": cfg.parallel_config.tensor_parallel_size,
            "max_num_batched_tokens": cfg.scheduler_config.max_num_batched_tokens,
            "enable_prefix_caching": cfg.cache_config.enable_prefix_caching,
            # a request that stops before max_tokens is computed for one more row (see conservation)
            "async_scheduling": bool(cfg.scheduler_config.async_scheduling),
            "load_format": str(cfg.load_config.load_format),
            "engine_args": self.job.engine_args,
            "load_s": round(self.load_s, 3),
        }

    def encode_prompts(self, messages: list[str], chat_template: bool) -> list[list[int]]:
        return encode_messages(self.llm.get_tokenizer(), messages, chat_template)

    def generate(self, prompts: list[list[int]], max_tokens: int, progress: ProgressFn | None) -> Generation:
        from vllm import SamplingParams

        params = SamplingParams(temperature=self.job.temperature, seed=self.job.seed, max_tokens=max_tokens)
        t0 = time.perf_counter()
        outs = self.llm.generate([{"prompt_token_ids": p} for p in prompts], params, use_tqdm=_Progress(progress))
        generate_s = time.perf_counter() - t0
        return Generation(
            [list(o.prompt_token_ids or []) for o in outs],
            [list(o.outputs[0].token_ids) for o in outs],
            generate_s,
            [o.outputs[0].finish_reason for o in outs],
            [int(o.num_cached_tokens or 0) for o in outs],
        )

    def shutdown(self) -> None:
        # LLM has no public close in 0.15.1; dropping it ends the engine-core process.
        del self.llm
