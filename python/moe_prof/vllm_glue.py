"""vLLM 0.15.1 glue: the only code that touches vLLM objects; vllm is imported lazily here.

The patch copies this file to `vllm/moe_prof_capture/glue.py` (with the capture core beside it)
and calls it from three places, each behind `if moe_prof_glue.ENABLED:` (one attribute check
per call when VLLM_LOG_MOE is unset; no buffers are ever made then):
  FusedMoE.forward_impl / forward_impl_chunked, after select_experts -> record()
  GPUModelRunner.execute_model, around the forward             -> begin_step() / end_step()
  Worker.shutdown                                               -> on_shutdown(worker)
  Worker.moe_prof_control (new method)                          -> control()
Profiling, warm-up, graph-capture and dummy forwards go through GPUModelRunner._dummy_run, which
never calls begin_step, so their rows are written into the buffers but never read.

Control from the process that owns the LLM (runs on every worker, between steps); the patch adds
the worker method `moe_prof_control`, so no function has to be pickled across processes:
    llm.collective_rpc("moe_prof_control", args=("resume", 25))  # or "pause" / "flush" / "close" / "stats"
(`llm.collective_rpc(control, args=(...))` with this module's `control` also works, but vLLM only
sends a function to the engine process with VLLM_ALLOW_INSECURE_SERIALIZATION=1.)
"""
from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

from .capture.env import capture_from_env, log_enabled
from .capture.segments import Segment, split_by_phase, user_request_id

if TYPE_CHECKING:
    import torch

    from .capture.capture import RouteCapture

log = logging.getLogger("moe_prof.vllm")

# Read once, when vLLM imports the patched modules (in the engine-core / worker process).
ENABLED: bool = log_enabled()

_cap: "RouteCapture | None" = None
_initialised = False
_layer_ids: dict[str, int] = {}
_disabled_reason: str | None = None


def _disable(reason: str) -> None:
    global _cap, _disabled_reason
    _disabled_reason = reason
    log.warning("moe-prof: route logging disabled on this rank: %s", reason)
    if _cap is not None:
        _cap.abandon()
    _cap = None


def _init(layer: Any, topk_ids: "torch.Tensor") -> "RouteCapture | None":
    """First MoE forward of the process (vLLM's profile run, eager): allocate the buffers, which
    must exist before CUDA graphs are captured so the copy kernels land in the graphs."""
    global _cap, _initialised
    _initialised = True
    import torch
    import vllm
    from vllm.distributed import get_tensor_model_parallel_rank
    from vllm.model_executor.models.utils import extract_layer_index

    if torch.cuda.is_current_stream_capturing():
        raise RuntimeError("moe-prof: the first MoE forward is a CUDA graph capture; buffers must be made before")
    if get_tensor_model_parallel_rank() != 0:
        return None  # every TP rank computes the same routing: rank 0 writes it
    vc = layer.vllm_config
    pc = vc.parallel_config
    if getattr(layer, "pcp_size", 1) > 1 or getattr(pc, "use_ubatching", False):
        _disable("prefill context parallelism and micro-batching (DBO) are not supported")
        return None
    if getattr(layer, "is_sequence_parallel", False):
        # topk_ids hold only this rank's slice of the tokens: rank 0 alone would log wrong rows
        _disable("sequence-parallel MoE is not supported")
        return None
    if vc.speculative_config is not None:
        # draft-model MoE layers run after the step's end_step, and rejected drafts recompute
        # positions: attribution would be wrong
        _disable("speculative decoding is not supported")
        return None
    if getattr(pc, "enable_eplb", False):
        _disable("EPLB is not supported (topk_ids are physical replica ids, not experts)")
        return None
    suffix: int | None = None
    if pc.data_parallel_size > 1 or pc.pipeline_parallel_size > 1:
        # each DP rank serves its own requests, each PP stage owns its own layers: one file each
        suffix = torch.distributed.get_rank() if torch.distributed.is_initialized() else int(pc.data_parallel_rank)
    moe_ids = [extract_layer_index(name) for name in vc.compilation_config.static_all_moe_layers]
    max_rows = max(int(vc.scheduler_config.max_num_batched_tokens), int(topk_ids.shape[0]))
    mc = vc.model_config
    meta: dict[str, object] = {
        "model_id": mc.model,
        "vllm_version": getattr(vllm, "__version__", "unknown"),
        "torch_version": torch.__version__,
        "device": torch.cuda.get_device_name(topk_ids.device),
        "seed": mc.seed,
        "num_experts": int(getattr(layer, "logical_num_experts", layer.global_num_experts)),
        "engine": "vllm",
        "quantization": mc.quantization,
        "enforce_eager": bool(mc.enforce_eager),
        "cudagraph_mode": str(vc.compilation_config.cudagraph_mode),
        "tensor_parallel_size": pc.tensor_parallel_size,
        "data_parallel_size": pc.data_parallel_size,
        "data_parallel_rank": pc.data_parallel_rank,
        "max_rows": max_rows,
        # With async scheduling a request that stops before max_tokens (EOS / stop token) gets one
        # more row, computed in the step scheduled before its stop was seen, then discarded.
        "async_scheduling": bool(vc.scheduler_config.async_scheduling),
    }
    _cap = capture_from_env(
        meta=meta, moe_layer_ids=moe_ids, top_k=int(layer.top_k), max_rows=max_rows,
        device=topk_ids.device, rank_suffix=suffix,
    )
    if _cap is not None:
        log.info("moe-prof: logging layers %s to %s.partial (paused=%s)", _cap.layers, _cap.out_path, _cap.paused)
    return _cap


def record(
    layer: Any, topk_ids: "torch.Tensor", topk_weights: "torch.Tensor", row_offset: int = 0, dispatched: bool = False
) -> None:
    """Inside the MoE forward (captured into CUDA graphs): copy this layer's routing into the buffers."""
    cap = _cap if _initialised else _init(layer, topk_ids)
    if cap is None:
        return
    name = layer.layer_name
    lid = _layer_ids.get(name)
    if lid is None:
        lid = _layer_ids[name] = int(layer.layer_id)
    if dispatched:
        # Naive DP dispatch gathered every DP rank's tokens before routing; keep this rank's rows
        # (the same slice vLLM's combine() takes back).
        if layer.is_sequence_parallel:
            _disable("sequence-parallel MoE with naive DP dispatch is not supported")
            return
        from vllm.forward_context import get_forward_context

        cu = get_forward_context().dp_metadata.cu_tokens_across_sp(1)
        r = int(layer.dp_rank)
        start = 0 if r == 0 else int(cu[r - 1])
        end = int(cu[r])
        topk_ids, topk_weights = topk_ids[start:end], topk_weights[start:end]
    cap.record(lid, topk_ids, topk_weights, row_offset)


def begin_step(runner: Any, num_scheduled_tokens_np: Any, num_tokens_unpadded: int, input_ids: "torch.Tensor | None") -> None:
    """Before the forward of a real step: which request and position each real row is."""
    cap = _cap
    if cap is None or cap.paused:
        return
    ib = runner.input_batch
    computed = ib.num_computed_tokens_cpu
    prompt = ib.num_prompt_tokens
    segs: list[Segment] = []
    for i, rid in enumerate(ib.req_ids):
        first = int(computed[i])
        n = int(num_scheduled_tokens_np[i])
        p = int(prompt[i])
        if first >= p:
            segs.append(Segment(user_request_id(rid), first, n, "decode"))
        else:
            segs.extend(split_by_phase(user_request_id(rid), first, n, p))
    cap.begin_step(segs, int(num_tokens_unpadded), input_ids)


def end_step() -> None:
    """After the forward, same stream: hand the real rows to the writer (async)."""
    if _cap is not None:
        _cap.end_step()


def on_shutdown(worker: Any = None) -> None:
    """Worker.shutdown. vLLM's engine core ends by SystemExit both on a clean shutdown and when its
    client dies mid-generation, so the exception does not tell them apart; what does is whether
    the model runner still holds requests. Rename `.partial` only when it holds none (or the log
    was closed through control already); otherwise keep the `.partial`: never present a
    truncated log as complete."""
    global _cap
    cap, _cap = _cap, None
    if cap is None:
        return
    runner = getattr(worker, "model_runner", None)
    pending = len(getattr(runner, "requests", {}) or {}) if runner is not None else 0
    exc = sys.exc_info()[1]
    clean = exc is None or isinstance(exc, (SystemExit, KeyboardInterrupt))
    if clean and pending == 0:
        try:
            path = cap.close()
            log.info("moe-prof: routes written to %s", path)
            return
        except Exception as e:  # a failed close must not mask the shutdown; the .partial stays
            log.error("moe-prof: closing the route log failed: %s", e)
    elif pending:
        log.warning(
            "moe-prof: engine shut down with %d requests unfinished: the route log stays %s.partial "
            "(close it with collective_rpc('moe_prof_control', args=('close',)) before shutdown)",
            pending, cap.out_path,
        )
    cap.abandon()


def control(_worker: object, action: str, req_id_offset: int = 0) -> dict[str, object]:
    """For `llm.collective_rpc(control, args=(action, ...))`; vLLM passes its worker first.
    Actions: pause, resume (request ids logged as id - req_id_offset), flush (everything so far
    on disk in the .partial), close (flush + rename to the final path), stats. Ranks that do not
    write (TP rank > 0, logging off) answer {"active": False}."""
    cap = _cap
    if cap is None:
        return {"active": False, "enabled": ENABLED, "disabled_reason": _disabled_reason}
    if action == "pause":
        cap.pause()
    elif action == "resume":
        cap.resume(req_id_offset)
    elif action == "flush":
        cap.flush()
    elif action == "close":
        cap.close()
    elif action != "stats":
        raise ValueError(f"moe-prof control: unknown action {action!r} (pause, resume, flush, close, stats)")
    return {"active": True, **cap.stats()}
