"""RouteCapture: graph-safe recording of MoE routing into persistent GPU buffers, read back
after each real engine step and handed to the writer process.

Life of a step (engine thread):   begin_step -> forward (record() per layer) -> end_step
  record():   torch.cat((ids, weights viewed as int32), out=buffer[rows, layer]): ONE kernel per
              layer, captured into CUDA graphs and replayed with them; no sync, no allocation,
              no data-dependent Python. The buffer is rows-major [max_rows, layers, ids|weights],
              so a step's real rows buffer[:n] are one contiguous block.
  end_step(): async D2H of buffer[:n] and the rows' token ids into a free pinned host slot, an
              event, a queue put: three CUDA driver calls (ctypes, ~1 us each) instead of torch ops
              (tens of us each of Python/dispatcher time on the engine thread); torch ops if the
              driver API is unavailable.
Collector thread: waits for the slot's event (GIL released), writes the raw bytes to the writer
process, frees the slot. When all host slots are busy, end_step waits (reported, never dropped)."""

from __future__ import annotations

import collections
import ctypes
import logging
import operator
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import torch

from .jsonl import RECOMPUTED, SCHEMA_VERSION, format_meta
from .layers import select_layers
from .parquet import log_paths
from .segments import Segment, shift_request_id
from .writer_client import WriterClient

log = logging.getLogger("moe_prof.capture")
_NUM_ROWS = operator.itemgetter(2)  # a segment's fields: (req_id, first_pos, num_rows, phase)
_PHASE = operator.itemgetter(3)


class RouteWriter(Protocol):
    """What RouteCapture hands steps to. WriterClient (a separate process) also has send_block,
    which RouteCapture prefers: the packed block goes out as is. The arrays are views of a pinned
    slot that is reused once the call returns."""

    def send_step(
        self,
        step: int,
        segments: Sequence[Segment],
        layers: Sequence[int],
        ids: np.ndarray,
        weights: np.ndarray,
        tokens: np.ndarray | None,
    ) -> None: ...
    def flush(self) -> None: ...
    def close(self, timeout: float | None = None) -> str | None: ...
    def abandon(self) -> None: ...


class _HostSlot:
    """Host memory one step's rows are copied into: pinned, with a CUDA event, for a CUDA buffer;
    plain memory and no event for a CPU buffer (the copy is done when end_step returns)."""

    def __init__(self, max_rows: int, n_layers: int, top_k: int, device: torch.device) -> None:
        self.pinned = device.type == "cuda"
        # [row, layer, ids | float32 weights bits], the buffer's layout
        self.block = torch.empty((max_rows, n_layers, 2 * top_k), dtype=torch.int32, pin_memory=self.pinned)
        self.block_ptr = self.block.data_ptr()
        self.block_np = self.block.numpy()  # the collector slices numpy views: no torch op per step
        self.row_bytes = n_layers * 2 * top_k * 4
        self.set_tokens_dtype(torch.int64, max_rows)
        self.event: torch.cuda.Event | None = None
        self.event_handle: int | None = None
        if self.pinned:
            # Blocking sync: the collector thread sleeps instead of spinning a core the engine needs.
            self.event = torch.cuda.Event(blocking=True)
            self.event.record(torch.cuda.current_stream(device))  # torch creates the CUDA event lazily
            self.event_handle = getattr(self.event, "cuda_event", None) or None

    def set_tokens_dtype(self, dtype: torch.dtype, max_rows: int) -> None:
        # input ids are copied as they are (vLLM: int32, transformers: int64): no conversion kernel
        self.tokens = torch.empty((max_rows,), dtype=dtype, pin_memory=self.pinned)
        self.tokens_ptr = self.tokens.data_ptr()
        self.tokens_np = self.tokens.numpy()


class _Driver:
    """The three calls end_step makes, straight to the CUDA driver (libcuda, the library torch
    itself runs on). Runtime and driver share stream, event and context handles; the engine
    thread's context is current because it just ran the forward. PyDLL: the GIL stays held (the
    calls only enqueue work), so the engine thread never has to win it back from the collector."""

    def __init__(self, device: torch.device) -> None:
        lib = ctypes.PyDLL("libcuda.so.1")
        self.memcpy_dtoh = lib.cuMemcpyDtoHAsync_v2
        self.memcpy_dtoh.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_size_t, ctypes.c_void_p]
        self.memcpy_dtoh.restype = ctypes.c_int
        self.event_record = lib.cuEventRecord
        self.event_record.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self.event_record.restype = ctypes.c_int
        index = device.index if device.index is not None else torch.cuda.current_device()
        raw = getattr(torch._C, "_cuda_getCurrentRawStream", None)
        if raw is None:
            raise OSError("torch._C._cuda_getCurrentRawStream is missing")
        self.index = index
        self.raw_stream = raw
        raw(index)  # fails here, not mid-step, if the binding changed


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
        host_slots: int = 8,
        writer_factory: Callable[[str, str], RouteWriter] | None = None,
        drain: str = "thread",
        log_format: str = "jsonl",
    ) -> None:
        """drain="thread": a collector thread waits for each step's copy and sends it;
        drain="inline": no thread, end_step sends the steps whose copies have finished (event query).
        log_format: jsonl, parquet (the same rows as a .parquet file beside out_path's name) or both;
        `out_path` is then the main file (log_paths(out_path, log_format)[0])."""
        if drain not in ("thread", "inline"):
            raise ValueError(f"drain must be 'thread' or 'inline', not {drain!r}")
        self._inline = drain == "inline"
        self._inflight: collections.deque[tuple[int, int, list[Segment], int, bool, int]] = collections.deque()
        self.layers = select_layers(moe_layer_ids, layers)
        self._slot_of = {layer: i for i, layer in enumerate(self.layers)}
        self._layers_t = tuple(self.layers)
        self.top_k = int(top_k)
        self.max_rows = int(max_rows)
        self.device = torch.device(device)
        nl = len(self.layers)
        # Rows-major [row, layer, ids(k) | weights(k) as int32 bits]: a step's rows buf[:n] are one
        # contiguous block (one D2H copy, no staging kernel); record() is one cat per layer into a
        # row-strided view (torch's cat kernel takes a non-contiguous output).
        self.buf = torch.zeros((self.max_rows, nl, 2 * self.top_k), dtype=torch.int32, device=self.device)
        self._layer_views = [self.buf[:, s] for s in range(nl)]
        self._buf_ptr = self.buf.data_ptr()
        self._slots = [_HostSlot(self.max_rows, nl, self.top_k, self.device) for _ in range(host_slots)]
        self._cuda = self.device.type == "cuda"
        self._driver: _Driver | None = None
        try:
            if not self._cuda:
                pass  # CPU buffers: end_step copies synchronously, nothing to enqueue
            elif any(sl.event_handle is None for sl in self._slots):
                raise OSError("torch.cuda.Event has no cuda_event handle")
            else:
                self._driver = _Driver(self.device)
        except (OSError, AttributeError) as e:
            log.info("moe-prof: CUDA driver API not usable (%s); end_step uses torch copies", e)
        self._free: queue.Queue[int] = queue.Queue()
        for i in range(host_slots):
            self._free.put(i)
        self._ready: queue.Queue[tuple[int, int, list[Segment], int, bool, int] | None] = queue.Queue()
        full_meta = dict(meta)
        full_meta.setdefault("schema_version", SCHEMA_VERSION)
        full_meta["layers_logged"] = list(self.layers)
        full_meta["top_k"] = self.top_k
        self.out_paths = log_paths(out_path, log_format)
        self.out_path = self.out_paths[0]
        self.log_format = log_format
        if writer_factory is not None:
            self._writer: RouteWriter = writer_factory(out_path, format_meta(full_meta))
        else:
            self._writer = WriterClient(out_path, format_meta(full_meta), log_format)
        self._paused = bool(start_paused)
        self._offset = 0
        self._pending: tuple[list[Segment], int, torch.Tensor | None, int, int, int] | None = None
        self._step = 0
        self._rows = 0
        self._rows_recomputed = 0
        self._finished: str | None = None  # the final path once the writer renamed the log
        self._stalls = 0
        self._stall_s = 0.0
        self._max_depth = 0
        self._error: BaseException | None = None
        self._closed = False
        self._collector: threading.Thread | None = None
        if not self._inline:
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
        if topk_ids.dtype != torch.int32:  # vLLM's routers give int32; others cost one more kernel
            topk_ids = topk_ids.to(torch.int32)
        if topk_weights.dtype != torch.float32:
            topk_weights = topk_weights.float()
        torch.cat(
            (topk_ids, topk_weights.view(torch.int32)), dim=1, out=self._layer_views[s][row_offset : row_offset + n]
        )

    # ---- around the forward of a real step ----
    def begin_step(
        self,
        segments: Sequence[Segment],
        num_real_rows: int,
        input_ids: torch.Tensor | None = None,
        step: int | None = None,
    ) -> None:
        """`step`: the engine's step number, logged with the rows (default: this capture's count)."""
        if self._paused or self._closed:
            self._pending = None
            return
        total = sum(map(_NUM_ROWS, segments))  # C-level loops: 256 segments in a few us
        if total != num_real_rows or num_real_rows > self.max_rows:
            raise ValueError(
                f"moe-prof capture: segments cover {total} rows, step has {num_real_rows} real rows "
                f"(buffers hold {self.max_rows})"
            )
        # the offset is applied by the writer: nothing per segment on the engine thread
        skipped = sum([s[2] for s in segments if s[3] == RECOMPUTED]) if RECOMPUTED in map(_PHASE, segments) else 0
        self._pending = (
            list(segments),
            num_real_rows,
            input_ids,
            self._offset,
            skipped,
            self._step if step is None else step,
        )

    def end_step(self) -> None:
        p, self._pending = self._pending, None
        if p is None:
            return
        if self._error is not None:
            raise RuntimeError(f"moe-prof capture: route writer failed: {self._error}")
        segs, n, input_ids, offset, skipped, step = p
        if self._inline:
            self._drain(block=False)
        try:
            i = self._free.get_nowait()
        except queue.Empty:
            t0 = time.perf_counter()
            if self._inline:
                self._drain(block=True, limit=1)
            i = self._free.get()
            waited = time.perf_counter() - t0
            self._stalls += 1
            self._stall_s += waited
            if self._stalls == 1 or self._stalls % 100 == 0:
                log.warning(
                    "moe-prof: route writer is behind; step %d waited %.1f ms for a host slot "
                    "(%d stalls so far, nothing dropped)",
                    self._step,
                    waited * 1e3,
                    self._stalls,
                )
        slot = self._slots[i]
        has_tokens = input_ids is not None
        if has_tokens:
            assert input_ids is not None
            if slot.tokens.dtype != input_ids.dtype:  # once per slot
                slot.set_tokens_dtype(input_ids.dtype, self.max_rows)
        d = self._driver
        if d is None or not self._enqueue_driver(d, slot, n, input_ids):
            if n:
                slot.block[:n].copy_(self.buf[:n], non_blocking=self._cuda)
                if input_ids is not None:
                    slot.tokens[:n].copy_(input_ids[:n], non_blocking=self._cuda)
            if slot.event is not None:
                slot.event.record()
        item = (i, step, segs, n, has_tokens, offset)
        if self._inline:
            self._inflight.append(item)
            self._max_depth = max(self._max_depth, len(self._inflight))
        else:
            self._ready.put(item)
            self._max_depth = max(self._max_depth, self._ready.qsize())
        self._step += 1
        self._rows += n - skipped
        self._rows_recomputed += skipped

    def _enqueue_driver(self, d: _Driver, slot: _HostSlot, n: int, input_ids: torch.Tensor | None) -> bool:
        """The copies and the event on the current stream through the driver. False if the ids
        are not a dense vector (torch copies this step) or a call failed (torch copies from now
        on; what the driver already enqueued is redone after it, stream-ordered, harmless)."""
        stream = d.raw_stream(d.index)
        if n:
            if input_ids is not None and (input_ids.dim() != 1 or input_ids.stride(0) != 1 or input_ids.shape[0] < n):
                return False
            rc = d.memcpy_dtoh(slot.block_ptr, self._buf_ptr, n * slot.row_bytes, stream)
            if rc == 0 and input_ids is not None:
                rc = d.memcpy_dtoh(slot.tokens_ptr, input_ids.data_ptr(), n * input_ids.element_size(), stream)
            if rc != 0:
                return self._driver_failed("cuMemcpyDtoHAsync", rc)
        rc = d.event_record(slot.event_handle, stream)  # type: ignore[arg-type]  (checked in __init__)
        if rc != 0:
            return self._driver_failed("cuEventRecord", rc)
        return True

    def _driver_failed(self, call: str, rc: int) -> bool:
        log.warning("moe-prof: %s returned CUDA error %d; end_step falls back to torch copies", call, rc)
        self._driver = None
        return False

    def _send(self, item: tuple[int, int, list[Segment], int, bool, int]) -> None:
        i, step, segs, n, has_tokens, offset = item
        slot = self._slots[i]
        try:
            if slot.event is not None:
                slot.event.synchronize()
            if self._error is None:
                block = slot.block_np[:n]
                tokens = slot.tokens_np[:n] if has_tokens else None
                send_block = getattr(self._writer, "send_block", None)
                if send_block is not None:
                    send_block(step, segs, self._layers_t, block, tokens, offset)
                else:
                    k = self.top_k
                    segs = [Segment(shift_request_id(s[0], offset), *s[1:]) for s in segs]
                    self._writer.send_step(
                        step, segs, self.layers, block[..., :k], block[..., k:].view(np.float32), tokens
                    )
        except BaseException as e:  # surfaced by the next end_step/flush, never swallowed
            self._error = e
        finally:
            self._free.put(i)

    def _drain(self, block: bool, limit: int | None = None) -> None:
        """Inline mode: send finished steps in order (all of them when block)."""
        sent = 0
        while self._inflight and (limit is None or sent < limit):
            i = self._inflight[0][0]
            ev = self._slots[i].event
            if not block and ev is not None and not ev.query():
                return
            self._send(self._inflight.popleft())
            sent += 1

    def _collect(self) -> None:
        while True:
            item = self._ready.get()
            try:
                if item is None:
                    return
                self._send(item)
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

    def _hand_over(self) -> None:
        """Every step ended so far is in the writer's pipe (GPU copies done, collector drained)."""
        if self._cuda:
            torch.cuda.current_stream(self.device).synchronize()
        if self._inline:
            self._drain(block=True)
        else:
            self._ready.join()
        if self._error is not None:
            raise RuntimeError(f"moe-prof capture: route writer failed: {self._error}")

    def flush(self) -> None:
        """Blocks until every step handed over so far is written and fsynced (to the .partial)."""
        if self._closed:
            return
        self._hand_over()
        self._writer.flush()

    def close(self, timeout: float | None = None) -> str | None:
        """Hand every step to the writer, then have it rename `<out>.partial` -> out. Returns the
        final path, or None if the writer did not finish within `timeout` seconds: it then
        finishes on its own (it outlives this process). Idempotent."""
        if self._finished is not None:
            return self._finished
        if not self._closed:
            self._hand_over()
            self._closed = True
            self._stop_collector()
        self._finished = self._writer.close(timeout)
        return self._finished

    def _stop_collector(self) -> None:
        if self._collector is not None:
            self._ready.put(None)
            self._collector.join()
            self._collector = None

    def abandon(self) -> None:
        """Stop without renaming: the `.partial` stays (what a crash leaves)."""
        if not self._closed:
            self._closed = True
            self._stop_collector()
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
            "rows_recomputed": self._rows_recomputed,
            "writer_pid": getattr(self._writer, "pid", None),
            "out_path": self.out_path,
            "log_format": self.log_format,
        }
