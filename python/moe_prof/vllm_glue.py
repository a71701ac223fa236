"""vLLM glue (0.15.1 and 0.20.2): the only code that touches vLLM objects; vllm is imported lazily
here. What differs between releases is read through the release's adapter (vllm_adapters/).

The patch copies this file to `vllm/moe_prof_capture/glue.py` (with the capture core beside it)
and calls it from these places, each behind `if moe_prof_glue.ENABLED:` (one attribute check per
call when VLLM_LOG_MOE is unset; nothing is allocated and nothing else runs then):
  Worker.load_model, at its end                                 -> on_model_loaded(worker)
  after select_experts (0.15.1: FusedMoE.forward_impl / forward_impl_chunked;
  0.20.2: MoERunner._apply_quant_method)                        -> record(layer, ...)
  GPUModelRunner.execute_model, around the forward             -> begin_step(runner, ...) / end_step(runner)
  EngineCore.__init__, at its end / EngineCore.shutdown            -> on_engine_start / on_engine_shutdown
  Worker.shutdown                                               -> on_shutdown(worker)
  Worker.moe_prof_control (new method)                          -> control(worker, ...)

One logging session per engine: made at model load, attached to the runner and to each MoE
layer (so two engines in one process, one after the other or at once, each get their own), and
ended at shutdown. Everything that cannot be logged correctly is refused at model load with one
warning naming the reason, and then nothing is written. During steps the glue never raises into
vLLM: a failure (writer died, disk full, rows that do not add up) stops logging with a warning,
keeps the `.partial`, and generation goes on.

Profiling, warm-up, graph-capture and dummy forwards go through GPUModelRunner._dummy_run, which
never calls begin_step, so their rows are written into the buffers but never read.

Control from the process that owns the LLM (runs on every worker, between steps):
    llm.collective_rpc("moe_prof_control", args=("resume", 25))  # or "pause" / "flush" / "close" / "stats"
"""

from __future__ import annotations

import logging
import os
import sys
from itertools import repeat
from typing import TYPE_CHECKING, Any

import numpy as np

from .capture.env import capture_from_settings, log_enabled, resolve_settings
from .capture.jsonl import RECOMPUTED
from .capture.meta import num_hidden_layers, route_log_meta
from .capture.segments import Segment, split_by_phase, user_request_id
from .vllm_adapters import installed as installed_adapter

if TYPE_CHECKING:
    import torch

    from .capture.capture import RouteCapture

log = logging.getLogger("moe_prof.vllm")
if not log.handlers:
    # Our own stderr handler at INFO: without one only warnings got out (through logging's last
    # resort; the H100 serve run of 2026-12-06 lost the writer's summary), and under vLLM's logger
    # they would move to stdout, where refusals at start have never gone.
    _stderr = logging.StreamHandler(sys.stderr)
    _stderr.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(_stderr)
    log.setLevel(logging.INFO)
    log.propagate = False

# Read once, when vLLM imports the patched modules (in the engine-core / worker process).
ENABLED: bool = log_enabled()

_ATTR = "_moe_prof_session"
# vLLM gives the engine-core process 5 s between SIGTERM and killing its process tree; the
# writer outlives that (it is detached), so shutdown only waits this long for it to finish.
SHUTDOWN_WAIT_S = 3.0
_PRUNE_EVERY = 256  # steps between dropping finished requests from the recompute marks
_sessions_with_files = 0  # logs this process has opened: the 2nd engine's file is `<stem>.2<ext>`


class _Session:
    """One engine's logging: the capture (None on TP ranks > 0, when refused, or after a failure),
    which MoE layers reached the hook, and for each running request the first position not yet
    logged (a preempted request is recomputed from an earlier position: those rows are skipped).

    The session is attached to the runner and to every MoE layer, which own the captured CUDA
    graphs; the graphs hold the capture buffer's address and write to it on every replay, also
    after logging stopped. So the buffer lives as long as the session (`graph_buffers`), never
    only as long as the capture: freeing it would let replays write into reused memory."""

    def __init__(self, disabled_reason: str | None) -> None:
        self.cap: RouteCapture | None = None
        self.graph_buffers: list[torch.Tensor] = []
        self.disabled_reason = disabled_reason
        self.logged_layers: set[int] = set()
        self.recorded: set[int] = set()
        self.checked_layers = False
        self.logged_upto: dict[str, int] = {}
        self.decode_run: _DecodeRun | None = None
        self.steps = 0  # real engine steps so far (begin_step calls)
        self.pruned_at = 0  # the step the marks were last pruned at
        self.suffixed_ids = True  # engine request ids are `<user id>-<random suffix>` (the adapter says)

    def disable(self, reason: str) -> None:
        """Stop logging for good; the `.partial` (if any) stays for what it is: incomplete."""
        self.disabled_reason = reason
        cap, self.cap = self.cap, None
        where = f"; {cap.out_path}.partial is incomplete" if cap is not None else ""
        log.warning("moe-prof: route logging stopped: %s%s", reason, where)
        if cap is not None:
            try:
                cap.abandon()
            except Exception as e:  # the writer may be the reason
                log.debug("moe-prof: abandoning the capture: %s", e)


def _moe_layers(vc: Any) -> list[Any]:
    ctx = vc.compilation_config.static_forward_context
    return [ctx[name] for name in vc.compilation_config.static_all_moe_layers if name in ctx]


def unsupported_reason(worker: Any, layers: list[Any]) -> str | None:
    """Why this engine's routing cannot be attributed correctly, or None."""
    vc = worker.vllm_config
    pc = vc.parallel_config
    if getattr(worker, "use_v2_model_runner", False):
        return "VLLM_USE_V2_MODEL_RUNNER=1: the V2 model runner is not patched"
    if not layers:
        return "the model has no FusedMoE layers"
    if any(getattr(layer.quant_method, "is_monolithic", False) for layer in layers):
        names = sorted({type(layer.quant_method).__name__ for layer in layers if layer.quant_method.is_monolithic})
        return f"the MoE kernel routes inside itself ({', '.join(names)}): select_experts is never called"
    if vc.speculative_config is not None:
        # draft-model MoE layers run after the step's end_step, and rejected drafts recompute
        return "speculative decoding is not supported"
    if getattr(pc, "enable_eplb", False):
        return "EPLB is not supported (topk_ids are physical replica ids, not experts)"
    if pc.pipeline_parallel_size > 1:
        return "pipeline parallelism is not supported (each stage sees only its own layers)"
    if pc.data_parallel_size > 1:
        return "data parallelism is not supported (each rank serves its own requests, with colliding ids)"
    adapter = installed_adapter()
    if getattr(pc, "prefill_context_parallel_size", 1) > 1 or any(
        adapter.layer_pcp_size(layer) > 1 for layer in layers
    ):
        return "prefill context parallelism is not supported"
    if getattr(pc, "use_ubatching", False):
        return "micro-batching (DBO) is not supported"
    if any(getattr(layer, "is_sequence_parallel", False) for layer in layers):
        return "sequence-parallel MoE is not supported (each rank routes only its slice of the tokens)"
    return None


def _file_for_this_engine(path: str) -> str:
    """The second and later engines of one process get `<stem>.2<ext>`, ...: never overwrite a
    log this process already wrote."""
    global _sessions_with_files
    _sessions_with_files += 1
    if _sessions_with_files == 1:
        return path
    stem, ext = os.path.splitext(path)
    return f"{stem}.{_sessions_with_files}{ext}"


def on_model_loaded(worker: Any) -> None:
    """End of Worker.load_model: decide whether this engine is logged, and make its buffers
    (before profiling and CUDA graph capture, so the copy kernels land in the graphs)."""
    import torch
    import vllm
    from vllm.distributed import get_tensor_model_parallel_rank
    from vllm.model_executor.models.utils import extract_layer_index

    runner = worker.model_runner
    vc = worker.vllm_config
    layers = _moe_layers(vc)
    reason = unsupported_reason(worker, layers)
    session = _Session(reason)
    session.suffixed_ids = installed_adapter().request_id_suffixed()
    for obj in [runner, *layers]:
        setattr(obj, _ATTR, session)
    if reason is not None:
        log.warning("moe-prof: VLLM_LOG_MOE is set but routes are not logged: %s; no log file is written", reason)
        return
    if get_tensor_model_parallel_rank() != 0:
        return  # every TP rank computes the same routing: rank 0 writes it
    first = layers[0]
    mc, pc, cc = vc.model_config, vc.parallel_config, vc.cache_config
    max_rows = int(getattr(runner, "max_num_tokens", vc.scheduler_config.max_num_batched_tokens))
    device = runner.device
    meta = route_log_meta(
        model_id=mc.model,
        engine="vllm",
        vllm_version=getattr(vllm, "__version__", "unknown"),
        torch_version=torch.__version__,
        device=torch.cuda.get_device_name(device) if device.type == "cuda" else str(device),
        seed=mc.seed,
        num_experts=int(getattr(first, "logical_num_experts", first.global_num_experts)),
        prefix_caching=bool(cc.enable_prefix_caching),
        # the model's decoder layers (vLLM's routed_experts has the same layer axis)
        num_layers=num_hidden_layers(getattr(mc, "hf_text_config", None)),
        extra={
            "quantization": mc.quantization,
            "enforce_eager": bool(mc.enforce_eager),
            "cudagraph_mode": str(vc.compilation_config.cudagraph_mode),
            "tensor_parallel_size": pc.tensor_parallel_size,
            "max_rows": max_rows,
            # With async scheduling a request that stops before max_tokens (EOS / stop token) gets
            # one more row, computed in the step scheduled before its stop was seen.
            "async_scheduling": bool(vc.scheduler_config.async_scheduling),
            "block_size": cc.block_size,
            # "dummy": vLLM's random weights; their routing says nothing about the trained model
            "load_format": str(getattr(vc.load_config, "load_format", "auto")),
        },
    )
    try:
        settings = resolve_settings()
        if settings is None:
            return
        cap = capture_from_settings(
            settings,
            meta=meta,
            moe_layer_ids=[extract_layer_index(layer.layer_name) for layer in layers],
            top_k=int(first.top_k),
            max_rows=max_rows,
            device=device,
            out_path=_file_for_this_engine(settings.out_path),
        )
    except Exception as e:  # a bad VLLM_LOG_MOE* value or an unwritable directory: say so, serve on
        session.disable(f"cannot start: {e}")
        return
    session.cap = cap
    session.graph_buffers.append(cap.buf)
    session.logged_layers = set(cap.layers)
    log.info("moe-prof: logging layers %s to %s.partial (paused=%s)", cap.layers, cap.out_path, cap.paused)


def record(
    layer: Any, topk_ids: torch.Tensor, topk_weights: torch.Tensor, row_offset: int = 0, dispatched: bool = False
) -> None:
    """Inside the MoE forward (captured into CUDA graphs): copy this layer's routing into the buffers."""
    session: _Session | None = getattr(layer, _ATTR, None)
    if session is None or session.cap is None:
        return
    lid = int(layer.layer_id)
    session.recorded.add(lid)
    if dispatched:
        # Naive DP dispatch gathered every DP rank's tokens before routing; keep this rank's rows
        # (the same slice vLLM's combine() takes back). DP > 1 is refused at load; kept for EP.
        from vllm.forward_context import get_forward_context

        cu = get_forward_context().dp_metadata.cu_tokens_across_sp(1)
        r = installed_adapter().layer_dp_rank(layer)
        start = 0 if r == 0 else int(cu[r - 1])
        end = int(cu[r])
        topk_ids, topk_weights = topk_ids[start:end], topk_weights[start:end]
    if row_offset + topk_ids.shape[0] > session.cap.max_rows:
        session.disable(
            f"a forward of {row_offset + topk_ids.shape[0]} rows exceeds the buffers' {session.cap.max_rows}"
        )
        return
    session.cap.record(lid, topk_ids, topk_weights, row_offset)


class _DecodeRun:
    """The batch of the last step and where each of its requests goes on. While the next step
    has the same requests in the same order, each continuing exactly there and all decoding
    (the steady state of generation), its segments come from numpy in one pass instead of a
    Python loop per request: 256 requests, 260 us -> 19 us a step on this project's 2-core
    CPU box (scripts/bench-glue-step.py times the whole engine-thread share)."""

    __slots__ = ("req_ids", "user_ids", "end")

    def __init__(self, req_ids: list[str], user_ids: list[str], end: Any) -> None:
        self.req_ids = req_ids  # a copy: vLLM reorders its list in place
        self.user_ids = user_ids
        self.end = end  # first position each request computes next


def _segments(session: _Session, runner: Any, num_scheduled_tokens_np: Any) -> list[Segment]:
    """Each request's rows of this step, in batch order, as (req_id, first_pos, num_rows, phase)
    tuples. Positions below a request's mark were logged before (vLLM recomputes a preempted
    request from position 0, or from its cached prefix): their rows get the RECOMPUTED phase,
    which the writer skips."""
    ib = runner.input_batch
    req_ids = ib.req_ids
    n = len(req_ids)
    computed = ib.num_computed_tokens_cpu[:n]
    scheduled = num_scheduled_tokens_np[:n]
    run = session.decode_run
    if (
        run is not None
        and req_ids == run.req_ids
        and np.array_equal(computed, run.end)
        and bool((computed >= ib.num_prompt_tokens[:n]).all())
    ):
        run.end = computed + scheduled
        # plain tuples (not Segment): marshal sends them to the writer as they are
        return list(zip(run.user_ids, computed.tolist(), scheduled.tolist(), repeat("decode")))
    return _segments_by_request(session, runner, req_ids, computed, scheduled)


def _segments_by_request(
    session: _Session, runner: Any, req_ids: list[str], computed: Any, scheduled: Any
) -> list[Segment]:
    """The general case, one request at a time, with the recompute marks."""
    prompt = runner.input_batch.num_prompt_tokens
    upto = session.logged_upto
    run, session.decode_run = session.decode_run, None
    if run is not None:  # the run moved its requests on (never below a mark) without the marks
        upto.update(zip(run.req_ids, run.end.tolist(), strict=True))
    segs: list[Segment] = []
    user_ids: list[str] = []
    behind = False  # a request still recomputing positions logged before: no decode run
    for i, rid in enumerate(req_ids):
        first = int(computed[i])
        n = int(scheduled[i])
        p = int(prompt[i])
        mark = upto.get(rid, 0)
        if mark > first + n:
            behind = True
        upto[rid] = max(mark, first + n)
        uid = user_request_id(rid) if session.suffixed_ids else rid
        user_ids.append(uid)
        if first < mark:
            again = min(n, mark - first)
            segs.append(Segment(uid, first, again, RECOMPUTED))
            first, n = first + again, n - again
            if n == 0:
                continue
        if first >= p:
            segs.append(Segment(uid, first, n, "decode"))
        else:
            segs.extend(split_by_phase(uid, first, n, p))
    if not behind:  # every mark is now its request's next position: a run may start here
        session.decode_run = _DecodeRun(list(req_ids), user_ids, computed + scheduled)
    if session.steps - session.pruned_at >= _PRUNE_EVERY:
        session.pruned_at = session.steps
        live = runner.requests  # finished requests leave it; preempted ones stay
        for rid in [r for r in upto if r not in live]:
            del upto[rid]
    return segs


def begin_step(
    runner: Any, num_scheduled_tokens_np: Any, num_tokens_unpadded: int, input_ids: torch.Tensor | None
) -> None:
    """Before the forward of a real step: which request and position each real row is."""
    session: _Session | None = getattr(runner, _ATTR, None)
    if session is None or session.cap is None:
        return
    step = session.steps  # the engine's real steps, counted while paused too: the log's `step`
    session.steps += 1
    if session.cap.paused:
        return
    if not session.checked_layers:
        session.checked_layers = True
        missing = sorted(session.logged_layers - session.recorded)
        if missing:  # profiling ran every layer: a silent layer would log the buffer's zeros
            session.disable(f"MoE layers {missing} never reached the routing hook")
            return
    try:
        session.cap.begin_step(
            _segments(session, runner, num_scheduled_tokens_np), int(num_tokens_unpadded), input_ids, step
        )
    except Exception as e:
        session.disable(f"step attribution failed: {e}")


def end_step(runner: Any) -> None:
    """After the forward, same stream: hand the real rows to the writer (async)."""
    session: _Session | None = getattr(runner, _ATTR, None)
    if session is None or session.cap is None:
        return
    try:
        session.cap.end_step()
    except Exception as e:  # the writer died or failed (disk full, ...): generation goes on
        session.disable(str(e))


def on_engine_start(engine_core: Any) -> None:
    """End of EngineCore.__init__. An engine that lives in the user's process
    (VLLM_ENABLE_V1_MULTIPROCESSING=0) is never shut down when the program simply ends: finish
    its log at interpreter exit instead (a no-op once on_engine_shutdown ran)."""
    import atexit
    import weakref

    ref = weakref.ref(engine_core)

    def at_exit() -> None:
        core = ref()
        if core is not None:
            on_engine_shutdown(core)

    atexit.register(at_exit)


def on_engine_shutdown(engine_core: Any) -> None:
    """EngineCore.shutdown, before the workers stop. Its scheduler knows whether every request
    finished: then each worker completes its log (waiting at most SHUTDOWN_WAIT_S for the writer,
    which finishes on its own after that); otherwise the `.partial` stays. Runs once."""
    if getattr(engine_core, "_moe_prof_finished", False):
        return
    engine_core._moe_prof_finished = True
    scheduler = getattr(engine_core, "scheduler", None)
    executor = getattr(engine_core, "model_executor", None)
    if executor is None:
        return
    unfinished = int(scheduler.get_num_unfinished_requests()) if scheduler is not None else 0
    action = "finish" if unfinished == 0 else "abandon"
    try:
        executor.collective_rpc("moe_prof_control", args=(action, unfinished))
    except Exception as e:  # shutting down: say why the log may stay .partial, never raise
        log.warning("moe-prof: could not %s the route log at engine shutdown: %s", action, e)


def on_shutdown(worker: Any = None) -> None:
    """Worker.shutdown: end this engine's session. The engine core has completed the log (or kept
    it `.partial`) just before; a session still open here was not ended by it (the engine failed,
    or the worker was shut down on its own), so its log stays `.partial`: never present a log as
    complete without knowing that every request finished."""
    runner = getattr(worker, "model_runner", None)
    session: _Session | None = getattr(runner, _ATTR, None)
    if session is None:
        return
    for obj in [runner, *_moe_layers(worker.vllm_config)]:
        if getattr(obj, _ATTR, None) is session:
            delattr(obj, _ATTR)
    cap, session.cap = session.cap, None
    if cap is not None and not cap.stats()["closed"]:
        log.warning("moe-prof: engine shut down before the route log was completed: it stays %s.partial", cap.out_path)
        cap.abandon()


def control(worker: Any, action: str, req_id_offset: int = 0) -> dict[str, object]:
    """Worker.moe_prof_control. Actions: pause, resume (request ids logged as id - req_id_offset),
    flush (everything so far on disk in the .partial), close (flush + rename to the final path),
    stats. Ranks that do not write (TP rank > 0, logging refused or failed) answer
    {"active": False, ...} with the reason, if any."""
    runner = getattr(worker, "model_runner", None)
    session: _Session | None = getattr(runner, _ATTR, None)
    cap = session.cap if session is not None else None
    if cap is None:
        reason = session.disabled_reason if session is not None else None
        return {"active": False, "enabled": ENABLED, "disabled_reason": reason}
    try:
        if action == "pause":
            cap.pause()
        elif action == "resume":
            cap.resume(req_id_offset)
        elif action == "flush":
            cap.flush()
        elif action == "close":
            cap.close()
        elif action == "finish":  # engine shutdown: close, waiting a bounded time for the writer
            st = cap.stats()
            # whether the writer kept up is what a serving benchmark's reader asks first
            log.info(
                "moe-prof: closing the route log %s: %d steps, %d rows, %d lines, %d writer stalls (%.1f ms), "
                "at most %d of %d host slots in use",
                cap.out_path,
                st["steps"],
                st["rows_written"],
                st["lines"],
                st["writer_stalls"],
                st["writer_stall_ms"],
                st["writer_lag_max"],
                st["host_slots"],
            )
            if cap.close(SHUTDOWN_WAIT_S) is None:
                log.info("moe-prof: the route writer finishes %s in the background", cap.out_path)
        elif action == "abandon":  # engine shutdown with requests unfinished (req_id_offset: how many)
            log.warning(
                "moe-prof: engine shut down with %d requests unfinished: the route log stays %s.partial "
                "(close it with collective_rpc('moe_prof_control', args=('close',)) before shutdown)",
                req_id_offset,
                cap.out_path,
            )
            cap.abandon()
        elif action != "stats":
            raise ValueError(f"moe-prof control: unknown action {action!r} (pause, resume, flush, close, stats)")
    except ValueError:
        raise
    except Exception as e:
        assert session is not None
        session.disable(str(e))
        return {"active": False, "enabled": ENABLED, "disabled_reason": session.disabled_reason}
    return {"active": True, **cap.stats()}
