"""A transformers engine: the same passes as vLLM, for MoE models without vLLM.

Routing is read from the model's own router output. In transformers 5 every MoE block calls its
experts module as `experts(hidden_states, top_k_index, top_k_weights)`, so a pre-hook there sees
exactly the ids and weights the experts use (Qwen2-MoE, Mixtral, OLMoE, ...). transformers 4.x
computes routing inline from `block.gate` logits; there the hook recomputes softmax/top-k the way
those blocks do. The rows go through the same capture core as the vLLM patch.

Generation is a plain batched loop (left padding, KV cache) so that every computed token row is
known: padding rows and rows of finished requests are computed but are not the requests' tokens,
so they are dropped before capture (eager mode: the index_select is an ordinary kernel).
"""

from __future__ import annotations

import inspect
import re
import time
from typing import Any

import torch

from moe_prof.capture import RouteCapture, Segment
from moe_prof.capture.meta import num_hidden_layers, route_log_meta
from moe_prof.engines.base import Generation, ProgressFn, RouteLogError
from moe_prof.engines.chat import encode_messages
from moe_prof.engines.moe_layers import check_layers, moe_layers_of_config
from moe_prof.worker.job import Job

_LAYER_RE = re.compile(r"(?:^|\.)layers\.(\d+)\.")


def _find_moe_modules(model: torch.nn.Module) -> list[tuple[int, torch.nn.Module, str]]:
    """(layer id, module to hook, kind) for every MoE block. kind: 'experts' (tf5) or 'gate' (tf4)."""
    found: list[tuple[int, torch.nn.Module, str]] = []
    for name, mod in model.named_modules():
        m = _LAYER_RE.search(name + ".")
        if m is None:
            continue
        layer = int(m.group(1))
        params = list(inspect.signature(mod.forward).parameters)
        if name.endswith(".experts") and params[:3] == ["hidden_states", "top_k_index", "top_k_weights"]:
            found.append((layer, mod, "experts"))
        elif (
            isinstance(getattr(mod, "gate", None), torch.nn.Linear)
            and hasattr(mod, "experts")
            and isinstance(mod.experts, torch.nn.ModuleList)
        ):
            found.append((layer, mod, "gate"))
    found.sort(key=lambda t: t[0])
    return found


def _load_compat(load: Any, source: Any, *, dtype: torch.dtype, **kwargs: Any) -> Any:
    """transformers 5 takes `dtype` and `experts_implementation`; 4.x `torch_dtype` and no experts choice."""
    import transformers

    if int(transformers.__version__.split(".")[0]) >= 5:
        return load(source, dtype=dtype, **kwargs)
    kwargs.pop("experts_implementation", None)  # 4.x: the expert loop is the only implementation
    return load(source, torch_dtype=dtype, **kwargs)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import platform

    return f"cpu ({platform.processor() or platform.machine()})"


class HFEngine:
    def __init__(self, job: Job) -> None:
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

        self.job = job
        self.device = torch.device(job.device)
        dtype = getattr(torch, job.dtype)
        # --deterministic: transformers' default grouped_mm experts and fused SDPA attention are
        # not run-to-run reproducible on H100 even with torch's deterministic mode (measured:
        # 24 of 25 greedy requests diverged between two identical runs); the eager expert loop
        # (index_add_, made deterministic by torch) and eager attention are.
        impl: dict[str, str] = (
            {"attn_implementation": "eager", "experts_implementation": "eager"} if job.deterministic else {}
        )
        self.implementations = impl or {"attn_implementation": "default", "experts_implementation": "default"}
        t0 = time.perf_counter()
        if job.random_weights and not job.config_dir:
            raise ValueError("--random-weights needs --config DIR (a model config.json)")
        config = AutoConfig.from_pretrained(job.config_dir if job.random_weights else job.model)
        check_layers(job.layers, moe_layers_of_config(config))  # before any weight loads
        if job.random_weights:
            torch.manual_seed(job.seed)  # both passes build the same weights
            with torch.device(self.device):
                model = _load_compat(AutoModelForCausalLM.from_config, config, dtype=dtype, **impl)
        else:
            model = _load_compat(
                AutoModelForCausalLM.from_pretrained, job.model, dtype=dtype, device_map=job.device, **impl
            )
        self.model = model.eval()
        self.config = self.model.config
        self.tokenizer = AutoTokenizer.from_pretrained(job.tokenizer or job.config_dir or job.model)
        self.load_s = time.perf_counter() - t0

        self.top_k = int(self.config.num_experts_per_tok)
        self.num_experts = int(getattr(self.config, "num_experts", None) or self.config.num_local_experts)
        self.moe = _find_moe_modules(self.model)
        if not self.moe:
            raise ValueError(f"{type(self.model).__name__}: found no MoE blocks to capture")
        check_layers(job.layers, [layer for layer, _, _ in self.moe])  # families the config does not say
        eos = getattr(self.model.generation_config, "eos_token_id", None) or self.config.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos]) if eos is not None else set()
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0

        # Rows of the current forward that are the requests' tokens (an index on the device);
        # None outside measured steps, so the hooks record nothing during warm-up.
        self.real_rows: torch.Tensor | None = None
        self.capture: RouteCapture | None = None
        self._hooks: list[Any] = []
        self.route_log: HFRouteLog | None = None
        if job.routes_path:
            # the buffers hold the largest forward: the prefill of every measured prompt at once
            prompts = self.encode_prompts(job.prompts, job.chat_template)
            self._open_capture(job.routes_path, job.layers, max(sum(len(p) for p in prompts), len(prompts)))
            self.route_log = HFRouteLog(self)

    # --- description -------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        import transformers

        return {
            "engine": "hf",
            "model_id": self.job.model,
            "model_class": type(self.model).__name__,
            "random_weights": self.job.random_weights,
            "dtype": self.job.dtype,
            "num_moe_layers": len(self.moe),
            "num_experts": self.num_experts,
            "top_k": self.top_k,
            "transformers_version": transformers.__version__,
            "torch_version": torch.__version__,
            "device": device_name(self.device),
            "cuda_graphs": False,
            "async_scheduling": False,
            **self.implementations,
            "load_s": round(self.load_s, 3),
        }

    def encode_prompts(self, messages: list[str], chat_template: bool) -> list[list[int]]:
        return encode_messages(self.tokenizer, messages, chat_template)

    # --- capture ---------------------------------------------------------------------------
    def _open_capture(self, routes_path: str, layers: list[int] | None, max_rows: int) -> None:
        import transformers

        meta = route_log_meta(
            model_id=self.job.model,
            engine="hf",
            vllm_version="none",
            torch_version=torch.__version__,
            device=device_name(self.device),
            seed=self.job.seed,
            num_experts=self.num_experts,
            prefix_caching=False,
            num_layers=num_hidden_layers(self.config),
            extra={
                "transformers_version": transformers.__version__,
                "random_weights": self.job.random_weights,
                "dtype": self.job.dtype,
            },
        )
        self.capture = RouteCapture(
            out_path=routes_path,
            meta=meta,
            moe_layer_ids=[layer for layer, _, _ in self.moe],
            layers=layers,
            top_k=self.top_k,
            max_rows=max_rows,
            device=self.device,
            start_paused=True,
            log_format=self.job.log_format,
        )
        for layer, mod, kind in self.moe:
            if kind == "experts":
                self._hooks.append(mod.register_forward_pre_hook(self._experts_hook(layer), with_kwargs=True))
            else:
                self._hooks.append(mod.gate.register_forward_hook(self._gate_hook(layer, mod)))

    def _record(self, layer: int, ids: torch.Tensor, weights: torch.Tensor) -> None:
        index = self.real_rows
        if self.capture is None or index is None:
            return
        self.capture.record(layer, ids.index_select(0, index), weights.index_select(0, index))

    def _experts_hook(self, layer: int) -> Any:
        def hook(_mod: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            names = ("hidden_states", "top_k_index", "top_k_weights")
            vals = list(args) + [kwargs[n] for n in names[len(args) :]]
            self._record(layer, vals[1], vals[2])

        return hook

    def _gate_hook(self, layer: int, block: torch.nn.Module) -> Any:
        # transformers 4.x: the block computes softmax -> top-k (-> renormalise) from these logits.
        top_k = int(getattr(block, "top_k", self.top_k))
        norm = bool(getattr(block, "norm_topk_prob", type(block).__name__.startswith("Mixtral")))

        def hook(_mod: torch.nn.Module, _inp: Any, logits: torch.Tensor) -> None:
            if self.real_rows is None:
                return
            probs = torch.softmax(logits.float(), dim=-1)
            w, ids = torch.topk(probs, top_k, dim=-1)
            if norm:
                w = w / w.sum(dim=-1, keepdim=True)
            self._record(layer, ids, w)

        return hook

    def close_capture(self) -> dict[str, Any]:
        cap = self.capture
        if cap is None:
            raise RouteLogError("the route log was already closed")
        self.capture = None
        cap.pause()
        for h in self._hooks:
            h.remove()
        self._hooks = []
        path = cap.close()
        return {"path": path, "stats": cap.stats()}

    # --- generation --------------------------------------------------------------------------
    @torch.inference_mode()
    def generate(self, prompts: list[list[int]], max_tokens: int, progress: ProgressFn | None) -> Generation:
        dev = self.device
        B = len(prompts)
        lens = [len(p) for p in prompts]
        S = max(lens)
        input_ids = torch.full((B, S), self.pad_id, dtype=torch.long)
        attn = torch.zeros((B, S), dtype=torch.long)
        for i, p in enumerate(prompts):
            input_ids[i, S - len(p) :] = torch.tensor(p, dtype=torch.long)
            attn[i, S - len(p) :] = 1
        input_ids, attn = input_ids.to(dev), attn.to(dev)
        lens_t = torch.tensor(lens, device=dev)
        gen = torch.Generator(device=dev).manual_seed(self.job.seed)
        capture = self.capture if self.capture is not None and not self.capture.paused else None

        outputs: list[list[int]] = [[] for _ in range(B)]
        finished = [False] * B
        done = 0
        self._sync()
        t0 = time.perf_counter()

        # Prefill: real rows are the unpadded prompt tokens, row-major = requests in order.
        positions = (attn.cumsum(-1) - 1).clamp(min=0)
        segments = [Segment(str(i), 0, lens[i], "prefill") for i in range(B)]
        real = attn.reshape(-1).nonzero().squeeze(1)
        logits, cache = self._forward(capture, segments, real, input_ids, attn, positions, None, 0)
        step = 0
        while True:
            next_tok = self._pick(logits, gen)
            next_host = next_tok.tolist()
            active: list[int] = []
            for i in range(B):
                if finished[i]:
                    continue
                outputs[i].append(int(next_host[i]))
                if next_host[i] in self.eos_ids or len(outputs[i]) >= max_tokens:
                    finished[i] = True
                    done += 1
                else:
                    active.append(i)
            if progress:  # every step: one batch runs all its requests to the end together
                made = sum(len(o) for o in outputs)
                progress(done, B, made, made + sum(max_tokens - len(outputs[i]) for i in active))
            if not active:
                break
            step += 1
            # Decode: each unfinished request feeds its newest token at position P + step - 1.
            attn = torch.cat([attn, torch.ones((B, 1), dtype=attn.dtype, device=dev)], dim=1)
            positions = (lens_t + step - 1).unsqueeze(1)
            segments = [Segment(str(i), lens[i] + step - 1, 1, "decode") for i in active]
            real = torch.tensor(active, dtype=torch.long, device=dev)
            logits, cache = self._forward(capture, segments, real, next_tok.unsqueeze(1), attn, positions, cache, step)
        self._sync()
        reasons: list[str | None] = ["stop" if out and out[-1] in self.eos_ids else "length" for out in outputs]
        return Generation(prompts, outputs, time.perf_counter() - t0, reasons, [0] * B)

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def _forward(
        self,
        capture: RouteCapture | None,
        segments: list[Segment],
        real_rows: torch.Tensor,
        input_ids: torch.Tensor,
        attn: torch.Tensor,
        positions: torch.Tensor,
        cache: Any,
        step: int,
    ) -> tuple[torch.Tensor, Any]:
        if capture is not None:
            self.real_rows = real_rows
            capture.begin_step(segments, int(real_rows.numel()), input_ids.reshape(-1).index_select(0, real_rows), step)
        try:
            out = self.model(
                input_ids=input_ids,
                attention_mask=attn,
                position_ids=positions,
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=1,
            )
        finally:
            self.real_rows = None
        if capture is not None:
            capture.end_step()
        return out.logits[:, -1, :], out.past_key_values

    def _pick(self, logits: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        if self.job.temperature <= 0:
            return logits.argmax(dim=-1)
        probs = torch.softmax(logits.float() / self.job.temperature, dim=-1)
        return torch.multinomial(probs, 1, generator=gen).squeeze(1)

    def shutdown(self) -> None:
        if self.capture is not None:  # not closed by the worker (it failed first): not complete
            self.capture.abandon()


class HFRouteLog:
    def __init__(self, engine: HFEngine) -> None:
        self._engine = engine

    def resume(self) -> None:
        if self._engine.capture is None:
            raise RouteLogError("the route log was already closed")
        self._engine.capture.resume(0)  # request ids are the prompt indices of each generate()

    def close(self) -> dict[str, Any]:
        return self._engine.close_capture()
