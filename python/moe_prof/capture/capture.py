"""RouteCapture: graph-safe recording of MoE routing into persistent GPU buffers, read back
after each real engine step and handed to the writer process.

Life of a step (engine thread):   begin_step -> forward (record() per layer) -> end_step
  record():   buffer[rows, slot].copy_(topk_*): one copy kernel, captured into CUDA graphs and
              replayed with them; no sync, no allocation, no data-dependent Python.
  end_step(): async D2H of the real rows into a free pinned host slot, an event, a queue put.
Collector thread: waits for the slot's event (GIL released), writes the raw bytes to the writer
process, frees the slot. When all host slots are busy, end_step waits (reported, never dropped)."""
from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import replace
from typing import Callable, Protocol, Sequence

import numpy as np
import torch

from .jsonl import SCHEMA_VERSION, format_meta
from .layers import select_layers
from .segments import Segment, shift_request_id
from .writer_client import WriterClient

log = logging.getLogger("moe_prof.capture")


class RouteWriter(Protocol):
    """What RouteCapture hands steps to (WriterClient: a separate process). send_step must be
    done with the arrays when it returns: they are views of a pinned slot that is reused."""

    def send_step(self, step: int, segments: Sequence[Segment], layers: Sequence[int], ids: np.ndarray,
                  weights: np.ndarray, tokens: np.ndarray | None) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> str: ...
    def abandon(self) -> None: ...


class _HostSlot:
    def __init__(self, max_rows: int, n_layers: int, top_k: int) -> None:
        self.ids = torch.empty((max_rows, n_layers, top_k), dtype=torch.int32, pin_memory=True)
        self.weights = torch.empty((max_rows, n_layers, top_k), dtype=torch.float32, pin_memory=True)
        self.tokens = torch.empty((max_rows,), dtype=torch.int64, pin_memory=True)
        # Blocking sync: the collector thread sleeps instead of spinning a core the engine needs.
        self.event = torch.cuda.Event(blocking=True)


class RouteCapture:
    def __init__(
        self,
        *,
        out_path: str,
        meta: dict[str, object],
        moe_layer_ids: Sequence[int],
        layers: Sequence[int] | None,
        top_k: int,
        max_rows: int,
        device: torch.device | str,
        start_paused: bool = False,
        host_slots: int = 4,
        writer_factory: Callable[[str, str], RouteWriter] | None = None,
    ) -> None:
        self.layers = select_layers(moe_layer_ids, layers)
        self._slot_of = {layer: i for i, layer in enumerate(self.layers)}
        self.top_k = int(top_k)
        self.max_rows = int(max_rows)
        self.device = torch.device(device)
        nl = len(self.layers)
        self.ids = torch.zeros((self.max_rows, nl, self.top_k), dtype=torch.int32, device=self.device)
        self.weights = torch.zeros((self.max_rows, nl, self.top_k), dtype=torch.float32, device=self.device)
        self.tokens = torch.zeros((self.max_rows,), dtype=torch.int64, device=self.device)
        self._slots = [_HostSlot(self.max_rows, nl, self.top_k) for _ in range(host_slots)]
        self._free: queue.Queue[int] = queue.Queue()
        for i in range(host_slots):
            self._free.put(i)
        self._ready: queue.Queue[tuple[int, int, list[Segment], int, bool] | None] = queue.Queue()
        full_meta = dict(meta)
        full_meta.setdefault("schema_version", SCHEMA_VERSION)
        full_meta["layers_logged"] = list(self.layers)
        full_meta["top_k"] = self.top_k
        self.out_path = out_path
        make = writer_factory or WriterClient
        self._writer: RouteWriter = make(out_path, format_meta(full_meta))
        self._paused = bool(start_paused)
        self._offset = 0
        self._pending: tuple[list[Segment], int, torch.Tensor | None] | None = None
        self._step = 0
        self._rows = 0
        self._stalls = 0
        self._stall_s = 0.0
        self._max_depth = 0
        self._error: BaseException | None = None
        self._closed = False
        self._collector = threading.Thread(target=self._collect, name="moe-prof-collector", daemon=True)
        self._collector.start()

    # ---- inside the forward (also profiling, warm-up, capture, dummy runs) ----
    def record(self, layer_id: int, topk_ids: torch.Tensor, topk_weights: torch.Tensor, row_offset: int = 0) -> None:
        s = self._slot_of.get(layer_id)
        if s is None:
            return
        n = topk_ids.shape[0]
        if row_offset + n > self.max_rows:
            raise RuntimeError(
                f"moe-prof capture: {row_offset + n} rows exceed the buffers' {self.max_rows} "
                "(max_rows must be the engine's max tokens per forward)"
            )
        self.ids[row_offset : row_offset + n, s].copy_(topk_ids, non_blocking=True)
        self.weights[row_offset : row_offset + n, s].copy_(topk_weights, non_blocking=True)

    # ---- around the forward of a real step ----
    def begin_step(self, segments: Sequence[Segment], num_real_rows: int, input_ids: torch.Tensor | None = None) -> None:
        if self._paused or self._closed:
            self._pending = None
            return
        total = sum(s.num_rows for s in segments)
        if total != num_real_rows or num_real_rows > self.max_rows:
            raise ValueError(
                f"moe-prof capture: segments cover {total} rows, step has {num_real_rows} real rows "
                f"(buffers hold {self.max_rows})"
            )
        segs = list(segments)
        if self._offset:
            segs = [replace(s, req_id=shift_request_id(s.req_id, self._offset)) for s in segs]
        self._pending = (segs, num_real_rows, input_ids)

    def end_step(self) -> None:
        p, self._pending = self._pending, None
        if p is None:
            return
        if self._error is not None:
            raise RuntimeError(f"moe-prof capture: route writer failed: {self._error}")
        segs, n, input_ids = p
        try:
            i = self._free.get_nowait()
        except queue.Empty:
            t0 = time.perf_counter()
            i = self._free.get()
            waited = time.perf_counter() - t0
            self._stalls += 1
            self._stall_s += waited
            if self._stalls == 1 or self._stalls % 100 == 0:
                log.warning(
                    "moe-prof: route writer is behind; step %d waited %.1f ms for a host slot "
                    "(%d stalls so far, nothing dropped)", self._step, waited * 1e3, self._stalls,
                )
        slot = self._slots[i]
        has_tokens = input_ids is not None
        if n:
            if has_tokens:
                assert input_ids is not None
                self.tokens[:n].copy_(input_ids[:n], non_blocking=True)
                slot.tokens[:n].copy_(self.tokens[:n], non_blocking=True)
            slot.ids[:n].copy_(self.ids[:n], non_blocking=True)
            slot.weights[:n].copy_(self.weights[:n], non_blocking=True)
        slot.event.record()
        self._ready.put((i, self._step, segs, n, has_tokens))
        self._max_depth = max(self._max_depth, self._ready.qsize())
        self._step += 1
        self._rows += n

    def _collect(self) -> None:
        while True:
            item = self._ready.get()
            try:
                if item is None:
                    return
                i, step, segs, n, has_tokens = item
                slot = self._slots[i]
                try:
                    slot.event.synchronize()
                    if self._error is None:
                        self._writer.send_step(
                            step, segs, self.layers, slot.ids[:n].numpy(), slot.weights[:n].numpy(),
                            slot.tokens[:n].numpy() if has_tokens else None,
                        )
                except BaseException as e:  # surfaced by the next end_step/flush, never swallowed
                    self._error = e
                finally:
                    self._free.put(i)
            finally:
                self._ready.task_done()

    # ---- control (worker / engine shutdown) ----
    def pause(self) -> None:
        self._paused = True
        self._pending = None

    def resume(self, req_id_offset: int = 0) -> None:
        self._offset = int(req_id_offset)
        self._paused = False

    @property
    def paused(self) -> bool:
        return self._paused

    def flush(self) -> None:
        """Blocks until every step handed over so far is written and fsynced (to the .partial)."""
        if self._closed:
            return
        torch.cuda.current_stream(self.device).synchronize()
        self._ready.join()
        if self._error is not None:
            raise RuntimeError(f"moe-prof capture: route writer failed: {self._error}")
        self._writer.flush()

    def close(self) -> str:
        """Flush, then rename `<out>.partial` -> out; idempotent. Returns the final path."""
        if self._closed:
            return self.out_path
        self.flush()
        self._closed = True
        self._ready.put(None)
        self._collector.join()
        return self._writer.close()

    def abandon(self) -> None:
        """Stop without renaming: the `.partial` stays (what a crash leaves)."""
        if not self._closed:
            self._closed = True
            self._ready.put(None)
            self._collector.join()
            self._writer.abandon()

    def stats(self) -> dict[str, object]:
        return {
            "steps": self._step,
            "rows_written": self._rows,
            "lines": self._rows * len(self.layers),
            "writer_stalls": self._stalls,
            "writer_stall_ms": round(self._stall_s * 1e3, 3),
            "writer_lag_max": self._max_depth,
            "host_slots": len(self._slots),
            "paused": self._paused,
            "closed": self._closed,
            "out_path": self.out_path,
        }
