"""What stands in for the GPU when vLLM 0.15.1's (or 0.20.2's) own engine runs on a CPU machine.

Real (vLLM 0.15.1's code, from the lock's venv, with the moe-prof patch applied by `moe-prof setup`):
  LLM, LLMEngine, the output processor (request ids "<n>-<8 random chars>", finish reasons,
  num_cached_tokens), EngineCore (in-process, and as its own process with vLLM's shutdown), the V1
  Scheduler / AsyncScheduler with its KV-cache manager (preemption, chunked prefill, prefix caching,
  async scheduling), UniProcExecutor, the patched `Worker` (execute_model, sample_tokens,
  load_model, shutdown, moe_prof_control), the patched `GPUModelRunner.execute_model` and
  `sample_tokens` (via vLLM's CPUModelRunner, which is GPUModelRunner on CPU tensors):
  _update_states, _prepare_inputs, InputBatch, batch padding, _dummy_run, the Sampler, and the
  route capture (glue + capture core) as the patch installs it.

Stand-ins (named here, each because the real thing needs a GPU or the model weights):
  - RouteTestWorker.init_device: gloo instead of NCCL, CPUModelRunner instead of a CUDA device.
  - the model: StandInMoEModel has no attention and no weights. Each of its MoE layers computes
    its routing from (token id, position, layer) with `routing()` and calls the glue exactly as the
    patched FusedMoE.forward_impl does; logits make the next token a function of (token, position).
  - KV cache: one full-attention KV spec (so the real KV-cache manager allocates blocks and
    preempts), no tensors, no attention backends.
  - profiling and warm-up: vLLM's own `_dummy_run` at the profile size and at a few graph sizes
    (there are no CUDA graphs on a CPU: `capture_model` is not called).
  - async scheduling's AsyncGPUModelRunnerOutput copies sampled tokens to the host on a CUDA
    stream; _CpuAsyncOutput takes the same tensors without one (its get_output is vLLM's).

What differs between the releases' objects lives in one place, RELEASE below (keyed by
vllm.__version__): where FusedMoE keeps its parallel ranks, what compile_or_warm_up_model returns,
and on 0.20.2 two more stand-ins: CPUModelRunner's slot mapping (a C++ op of vLLM's CPU build,
absent from the CUDA wheel) in torch, and the runner's shutdown without an accelerator sync.

Settings reach the engine-core process through environment variables (MOE_TEST_*), because vLLM
builds the worker from a class name there.
"""

from __future__ import annotations

import gc
import json
import os
import weakref
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
import vllm
import vllm.v1.worker.gpu_model_runner as _gmr
from vllm.v1.kv_cache_interface import FullAttentionSpec
from vllm.v1.worker.gpu_worker import Worker

STOP_TOKEN = 3
NUM_EXPERTS = 60
TOP_K = 4


# ---- the stand-in model's functions (the oracle re-computes them in plain Python) ----------
def routing(token: int, pos: int, layer: int) -> tuple[list[int], list[float]]:
    """Expert ids (distinct) and weights (exact float32: multiples of 1/4096) of one row."""
    h = (token * 1000003 + pos * 7919 + layer * 104729) % (1 << 31)
    base, step = h % NUM_EXPERTS, 1 + layer % 3
    ids = [(base + j * step) % NUM_EXPERTS for j in range(TOP_K)]
    weights = [((h >> j) % 997 + 1) / 4096 for j in range(TOP_K)]
    return ids, weights


def next_token(token: int, pos: int, stop_every: int) -> int:
    """Greedy next token after `token` at `pos`; STOP_TOKEN at some positions when stop_every > 0."""
    if stop_every > 0 and (token * 7 + pos) % stop_every == 0:
        return STOP_TOKEN
    return (token * 31 + pos * 17 + 5) % 1000 + 10


def _routing_torch(tokens: torch.Tensor, pos: torch.Tensor, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
    h = (tokens.long() * 1000003 + pos.long() * 7919 + layer * 104729) % (1 << 31)
    base, step = h % NUM_EXPERTS, 1 + layer % 3
    j = torch.arange(TOP_K)
    ids = ((base[:, None] + j[None, :] * step) % NUM_EXPERTS).to(torch.int32)
    weights = (((h[:, None] >> j[None, :]) % 997 + 1).to(torch.float32) / 4096).contiguous()
    return ids, weights


# ---- what differs between the releases' objects: here only, keyed by vllm.__version__ --------
class _Release0151:
    @staticmethod
    def fused_moe_parallel(layer: torch.nn.Module) -> None:
        """FusedMoE carries its parallel ranks itself."""
        layer.pcp_size = 1
        layer.dp_rank = 0

    @staticmethod
    def compilation_times() -> Any:
        return 0.0  # compile_or_warm_up_model returns the compilation time in seconds

    @staticmethod
    def cpu_runner_kernels() -> None:
        pass  # the slot mapping is numpy code in this release

    @staticmethod
    def cpu_runner(runner: Any) -> None:
        pass  # GPUModelRunner has no shutdown of its own here


class _Release0202:
    @staticmethod
    def fused_moe_parallel(layer: torch.nn.Module) -> None:
        """FusedMoE's parallel ranks moved into its FusedMoEConfig."""
        layer.moe_config = SimpleNamespace(pcp_size=1, dp_rank=0)

    @staticmethod
    def compilation_times() -> Any:
        from vllm.v1.worker.worker_base import CompilationTimes

        return CompilationTimes(language_model=0.0, encoder=0.0)

    @staticmethod
    def cpu_runner_kernels() -> None:
        """CPUModelRunner computes the slot mapping with a C++ op of vLLM's CPU build, which the
        CUDA wheel lacks: the same computation in torch (the triton kernel's, without context
        parallelism). The stand-in model has no attention, so nothing reads it."""
        import vllm.utils.cpu_triton_utils as cpu_tl

        cpu_tl.compute_slot_mapping_kernel = _SlotMappingKernel()

    @staticmethod
    def cpu_runner(runner: Any) -> None:
        """GPUModelRunner.shutdown synchronizes the accelerator first (torch initializes CUDA for
        that): there is no device to wait for; the rest of its cleanup is vLLM's."""
        cleanup = runner._cleanup_profiling_kv_cache

        def cleanup_without_device() -> None:
            synchronize = torch.accelerator.synchronize
            torch.accelerator.synchronize = lambda *_, **__: None
            try:
                cleanup()
            finally:
                torch.accelerator.synchronize = synchronize

        runner._cleanup_profiling_kv_cache = cleanup_without_device


class _SlotMappingKernel:
    """vLLM 0.20.2's `_compute_slot_mapping_kernel[grid](...)` (block_table.py) in torch."""

    def __getitem__(self, grid: tuple[int]) -> Any:
        num_reqs = grid[0] - 1  # the last program pads

        def run(
            num_tokens: int,
            max_num_tokens: int,
            query_start_loc: torch.Tensor,
            positions: torch.Tensor,
            block_table: torch.Tensor,
            block_table_stride: int,
            block_size: int,
            slot_mapping: torch.Tensor,
            TOTAL_CP_WORLD_SIZE: int,
            PAD_ID: int,
            **_: Any,
        ) -> None:
            assert TOTAL_CP_WORLD_SIZE == 1
            starts = query_start_loc.tolist()
            for r in range(num_reqs):
                pos = positions[starts[r] : starts[r + 1]].long()
                blocks = block_table[r, pos // block_size].long()
                slot_mapping[starts[r] : starts[r + 1]] = blocks * block_size + pos % block_size
            slot_mapping[num_tokens:max_num_tokens] = PAD_ID

        return run


RELEASE = {"0.15.1": _Release0151, "0.20.2": _Release0202}[vllm.__version__]


class _NoEvent:
    def synchronize(self) -> None:
        pass


class _CpuAsyncOutput(_gmr.AsyncGPUModelRunnerOutput):
    """AsyncGPUModelRunnerOutput without the CUDA copy stream: the sampled tokens are already on
    the host. get_output() is vLLM's own."""

    def __init__(
        self,
        model_runner_output: Any,
        sampled_token_ids: torch.Tensor,
        logprobs_tensors: Any,
        invalid_req_indices: list[int],
        async_output_copy_stream: Any,
        vocab_size: int,
    ) -> None:
        self._model_runner_output = model_runner_output
        self._invalid_req_indices = invalid_req_indices
        self.async_copy_ready_event = _NoEvent()
        self._sampled_token_ids = sampled_token_ids
        self.vocab_size = vocab_size
        self._logprobs_tensors = logprobs_tensors
        self.sampled_token_ids_cpu = sampled_token_ids.clone()
        self._logprobs_tensors_cpu = None


class StandInFusedMoE(torch.nn.Module):
    """The attributes of vLLM's FusedMoE that the glue reads, and its call into the glue."""

    def __init__(self, vllm_config: Any, layer_id: int) -> None:
        super().__init__()
        self.layer_name = f"model.layers.{layer_id}.mlp.experts"
        self.layer_id = layer_id
        self.vllm_config = vllm_config
        self.top_k = TOP_K
        self.global_num_experts = NUM_EXPERTS
        self.logical_num_experts = NUM_EXPERTS
        self.is_sequence_parallel = False
        RELEASE.fused_moe_parallel(self)
        self.quant_method = _QuantMethod(os.environ.get("MOE_TEST_MONOLITHIC") == "1")
        cc = vllm_config.compilation_config
        cc.static_all_moe_layers.append(self.layer_name)  # as FusedMoE.__init__ does
        cc.static_forward_context[self.layer_name] = self

    def route(self, tokens: torch.Tensor, pos: torch.Tensor, chunk: int) -> None:
        from vllm.moe_prof_capture import glue as moe_prof_glue

        if self.quant_method.is_monolithic:
            return  # routing happens inside the kernel: select_experts is never called
        topk_ids, topk_weights = _routing_torch(tokens, pos, self.layer_id)
        if not moe_prof_glue.ENABLED:
            return
        if chunk <= 0:  # FusedMoE.forward_impl
            moe_prof_glue.record(self, topk_ids, topk_weights, dispatched=False)
            return
        for start in range(0, topk_ids.shape[0], chunk):  # forward_impl_chunked
            moe_prof_glue.record(
                self, topk_ids[start : start + chunk], topk_weights[start : start + chunk], row_offset=start
            )


class _QuantMethod:
    def __init__(self, monolithic: bool) -> None:
        self.is_monolithic = monolithic


class StandInMoEModel(torch.nn.Module):
    def __init__(self, vllm_config: Any) -> None:
        super().__init__()
        hf = vllm_config.model_config.hf_config
        sparse_step = int(getattr(hf, "decoder_sparse_step", 1) or 1)
        n_layers = int(os.environ.get("MOE_TEST_LAYERS", "0") or 0) or int(hf.num_hidden_layers)
        self.moe = torch.nn.ModuleList(
            [StandInFusedMoE(vllm_config, i) for i in range(n_layers) if (i + 1) % sparse_step == 0]
        )
        self.vocab = vllm_config.model_config.get_vocab_size()
        self.stop_every = int(os.environ.get("MOE_TEST_STOP_EVERY", "0"))
        self.chunk = int(os.environ.get("MOE_TEST_MOE_CHUNK", "0"))

    def forward(
        self, input_ids: torch.Tensor | None = None, positions: torch.Tensor | None = None, **_: Any
    ) -> torch.Tensor:
        assert input_ids is not None and positions is not None
        for layer in self.moe:
            layer.route(input_ids, positions, self.chunk)
        return torch.stack([input_ids.float(), positions.float()], dim=1)

    def compute_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(hidden.shape[0], self.vocab)
        nxt = [next_token(int(t), int(p), self.stop_every) for t, p in hidden.long().tolist()]
        logits[torch.arange(hidden.shape[0]), torch.tensor(nxt, dtype=torch.long)] = 30.0
        return logits


class _ScheduleOracle:
    """What the scheduler scheduled, step by step: the test's oracle (JSON lines)."""

    def __init__(self, path: str | None) -> None:
        self._f = open(path, "a", encoding="utf-8") if path else None
        self._step = 0

    def record(self, so: Any) -> None:
        if self._f is None or so.total_num_scheduled_tokens == 0:
            return
        first: dict[str, int] = {r.req_id: int(r.num_computed_tokens) for r in so.scheduled_new_reqs}
        cached = so.scheduled_cached_reqs
        for i, rid in enumerate(cached.req_ids):
            first[rid] = int(cached.num_computed_tokens[i])
        sched = [[rid, first[rid], int(n)] for rid, n in so.num_scheduled_tokens.items()]
        self._f.write(
            json.dumps({"step": self._step, "scheduled": sched, "preempted": sorted(so.preempted_req_ids or [])}) + "\n"
        )
        self._f.flush()
        self._step += 1


class RouteTestWorker(Worker):
    """vLLM's (patched) GPU Worker with its device-bound methods replaced (see module docstring)."""

    def init_device(self) -> None:
        from vllm.v1.worker.cpu_model_runner import CPUModelRunner
        from vllm.v1.worker.gpu_worker import init_worker_distributed_environment

        init_worker_distributed_environment(
            self.vllm_config, self.rank, self.distributed_init_method, self.local_rank, "gloo"
        )
        _gmr.is_pin_memory_available = lambda: False  # no CUDA: the runner's buffers stay pageable
        _gmr.AsyncGPUModelRunnerOutput = _CpuAsyncOutput  # type: ignore[misc]
        self.device = torch.device("cpu")
        RELEASE.cpu_runner_kernels()
        if self.use_v2_model_runner:
            self.model_runner = _V2RunnerStandIn()  # type: ignore[assignment]
            return
        self.model_runner = CPUModelRunner(self.vllm_config, self.device)
        runner = self.model_runner
        RELEASE.cpu_runner(runner)

        def load_model(*_: Any, **__: Any) -> None:  # 0.15.1: eep_scale_up; 0.20.2: load_dummy_weights
            runner.model = StandInMoEModel(self.vllm_config)

        runner.load_model = load_model  # type: ignore[method-assign]
        self._oracle = _ScheduleOracle(os.environ.get("MOE_TEST_SCHEDULE_LOG"))

    def get_kv_cache_spec(self) -> dict[str, Any]:
        return {
            "model.layers.0.self_attn.attn": FullAttentionSpec(
                block_size=self.cache_config.block_size, num_kv_heads=1, head_size=1, dtype=torch.float32
            )
        }

    def determine_available_memory(self) -> int:
        if not self.use_v2_model_runner:
            # vLLM's profiling forward: the largest batch, dummy tokens; it must never be logged
            self.model_runner._dummy_run(self.model_runner.max_num_tokens, is_profile=True)
        return 1 << 30  # the test fixes the block count with num_gpu_blocks_override

    def initialize_from_config(self, kv_cache_config: Any) -> None:
        if self.use_v2_model_runner:
            return
        self.model_runner.kv_cache_config = kv_cache_config
        self.model_runner.attn_groups = [[] for _ in kv_cache_config.kv_cache_groups]

    def compile_or_warm_up_model(self) -> Any:
        if not self.use_v2_model_runner:
            # warm-up forwards at the graph sizes (CUDA-graph capture on a GPU): never logged
            for size in (1, 2, 4, 8):
                self.model_runner._dummy_run(size, skip_eplb=True)
        return RELEASE.compilation_times()

    def get_supported_tasks(self) -> tuple[str, ...]:
        return ("generate",)

    def load_model(self, *args: Any, **kwargs: Any) -> None:
        super().load_model(*args, **kwargs)  # the patched one: the glue's session is made at its end
        session = getattr(self.model_runner, "_moe_prof_session", None)
        cap = getattr(session, "cap", None)
        # The buffer captured CUDA graphs would write into on every replay (on a GPU): watched
        # without holding it, so the test sees whether the glue keeps it alive.
        self._capture_buffer = weakref.ref(cap.buf) if cap is not None else None

    def moe_test_capture_buffer_alive(self) -> bool | None:
        """Whether the capture buffer made at model load still exists (None: no capture)."""
        if self._capture_buffer is None:
            return None
        gc.collect()
        return self._capture_buffer() is not None

    def execute_model(self, scheduler_output: Any) -> Any:
        if not self.use_v2_model_runner:
            self._oracle.record(scheduler_output)
        return super().execute_model(scheduler_output)


class _V2RunnerStandIn:
    """VLLM_USE_V2_MODEL_RUNNER=1: a runner that is not the patched GPUModelRunner. It must never
    be logged; the glue has to refuse it at model load (this stand-in only has to get that far)."""

    requests: dict[str, Any] = {}

    def load_model(self, *_: Any, **__: Any) -> None:
        pass

    def reset_mm_cache(self) -> None:
        pass

    def shutdown(self) -> None:  # vLLM 0.20.2's Worker.shutdown calls it
        pass


def read_oracle(path: str) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def expected_rows(oracle_steps: list[dict[str, Any]], req_id_of: Any) -> dict[str, set[int]]:
    """Positions the scheduler had computed per measured request (req_id_of maps vLLM's internal
    id to the logged id, or None for requests that are not measured)."""
    out: dict[str, set[int]] = {}
    for step in oracle_steps:
        for rid, first, n in step["scheduled"]:
            rid_user = req_id_of(rid)
            if rid_user is not None:
                out.setdefault(rid_user, set()).update(range(first, first + n))
    return out


__all__ = [
    "STOP_TOKEN",
    "NUM_EXPERTS",
    "TOP_K",
    "routing",
    "next_token",
    "RouteTestWorker",
    "read_oracle",
    "expected_rows",
    "np",
]
