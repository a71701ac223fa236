#!/usr/bin/env python3
"""Generate patches/vllm-v<VERSION>-moe-logger.patch from python/ and pristine vLLM files.

One capture core (python/moe_prof/capture/), one glue (python/moe_prof/vllm_glue.py) and, per
supported vLLM release, a thin adapter (python/moe_prof/vllm_adapters/v<X_Y_Z>.py) plus the call
sites below (exact anchors in that release's files, each of which must match as expected). The
patch adds the package `vllm/moe_prof_capture/` (core + glue.py + vllm_adapters/ with only that
release's adapter, imports rewritten) and the call sites.

  gen-vllm-patch.py [--vllm 0.15.1|0.20.2] --vllm-src DIR          write the patch (DIR holds pristine vllm/)
  gen-vllm-patch.py [--vllm VERSION] --vllm-src DIR --check        exit 1 if the committed patch differs (drift)
  gen-vllm-patch.py [--vllm VERSION] --new-files-only --check      compare only the generated package (no vLLM needed)
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
from collections.abc import Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKG = "vllm/moe_prof_capture"
CORE_DIR = os.path.join(ROOT, "python", "moe_prof", "capture")
CORE_FILES = [
    "__init__.py",
    "capture.py",
    "env.py",
    "jsonl.py",
    "layers.py",
    "meta.py",
    "parquet.py",
    "segments.py",
    "writer_client.py",
    "writer_proc.py",
]
GLUE = os.path.join(ROOT, "python", "moe_prof", "vllm_glue.py")
ADAPTERS_DIR = os.path.join(ROOT, "python", "moe_prof", "vllm_adapters")

IMPORT = "from vllm.moe_prof_capture import glue as moe_prof_glue\n"

# (file, anchor, text to insert, where: "after"/"before"/"before_apply", expected occurrences)
Edit = tuple[str, str, str, str, int]

# vLLM 0.15.1 (facts: ../shared/design/vllm-0.15.1-hooks.md)
EDITS_0_15_1: list[Edit] = [
    (
        "vllm/model_executor/layers/fused_moe/layer.py",
        "from vllm.v1.worker.ubatching import dbo_current_ubatch_id\n",
        IMPORT,
        "after",
        1,
    ),
    # forward_impl_chunked's process_chunk (first occurrence) and forward_impl (second): the
    # edits are applied in order, each to the first not-yet-edited occurrence.
    (
        "vllm/model_executor/layers/fused_moe/layer.py",
        "                if self.capture is not None:\n                    self.capture(topk_ids)\n\n"
        "                final_hidden_states = self.quant_method.apply(\n"
        "                    layer=self,\n                    x=staged_hidden_states,\n",
        "                if moe_prof_glue.ENABLED and not skip_result_store:\n"
        "                    moe_prof_glue.record(\n"
        "                        self, topk_ids, topk_weights, row_offset=chunk_start\n"
        "                    )\n\n",
        "before_apply",
        1,
    ),
    (
        "vllm/model_executor/layers/fused_moe/layer.py",
        "                if self.capture is not None:\n                    self.capture(topk_ids)\n\n"
        "                final_hidden_states = self.quant_method.apply(\n"
        "                    layer=self,\n                    x=x,",
        "                if moe_prof_glue.ENABLED:\n"
        "                    moe_prof_glue.record(\n"
        "                        self, topk_ids, topk_weights, dispatched=do_naive_dispatch_combine\n"
        "                    )\n\n",
        "before_apply",
        1,
    ),
    (
        "vllm/v1/engine/core.py",
        "from vllm.v1.utils import compute_iteration_details\n",
        IMPORT,
        "after",
        1,
    ),
    # the engine core decides, at its shutdown, whether the log is complete: only its scheduler
    # knows whether every request finished (the worker's runner still holds the last step's)
    (
        "vllm/v1/engine/core.py",
        "        self.aborts_queue = queue.Queue[list[str]]()\n",
        "        if moe_prof_glue.ENABLED:\n            moe_prof_glue.on_engine_start(self)\n",
        "after",
        1,
    ),
    (
        "vllm/v1/engine/core.py",
        "        if self.model_executor:\n            self.model_executor.shutdown()\n",
        "        if moe_prof_glue.ENABLED:\n            moe_prof_glue.on_engine_shutdown(self)\n",
        "before",
        1,
    ),
    (
        "vllm/v1/worker/gpu_model_runner.py",
        "from vllm.v1.worker.workspace import lock_workspace\n",
        IMPORT,
        "after",
        1,
    ),
    (
        "vllm/v1/worker/gpu_model_runner.py",
        "        # Run the model.\n        # Use persistent buffers for CUDA graphs.\n        with (\n            set_forward_context(\n",
        "        if moe_prof_glue.ENABLED:\n"
        "            moe_prof_glue.begin_step(\n"
        "                self, num_scheduled_tokens_np, num_tokens_unpadded, input_ids\n"
        "            )\n\n",
        "before",
        1,
    ),
    (
        "vllm/v1/worker/gpu_model_runner.py",
        '        with record_function_or_nullcontext("gpu_model_runner: postprocess"):\n',
        "        if moe_prof_glue.ENABLED:\n            moe_prof_glue.end_step(self)\n\n",
        "before",
        1,
    ),
    (
        "vllm/v1/worker/gpu_worker.py",
        "from vllm.v1.worker.workspace import init_workspace_manager\n",
        IMPORT,
        "after",
        1,
    ),
    # the engine's logging session starts once the model (its FusedMoE layers) exists, before
    # profiling and CUDA graph capture
    (
        "vllm/v1/worker/gpu_worker.py",
        "            self.model_runner.load_model(eep_scale_up=eep_scale_up)\n",
        "        if moe_prof_glue.ENABLED:\n            moe_prof_glue.on_model_loaded(self)\n",
        "after",
        1,
    ),
    (
        "vllm/v1/worker/gpu_worker.py",
        "    def shutdown(self) -> None:\n",
        "        if moe_prof_glue.ENABLED:\n            moe_prof_glue.on_shutdown(self)\n",
        "after",
        1,
    ),
    # a named worker method, so the LLM's process can call it with collective_rpc("moe_prof_control")
    # without VLLM_ALLOW_INSECURE_SERIALIZATION (which passing a function would need)
    (
        "vllm/v1/worker/gpu_worker.py",
        "    def shutdown(self) -> None:\n",
        "    def moe_prof_control(self, action: str, req_id_offset: int = 0) -> dict:\n"
        "        return moe_prof_glue.control(self, action, req_id_offset)\n\n",
        "before",
        1,
    ),
]

# vLLM 0.20.2 (facts: patches/vllm-0.20.2-hooks.md): routing moved from FusedMoE.forward_impl into
# MoERunner._apply_quant_method (no chunked path any more), Worker.load_model's call changed, the
# forward gained comment lines above `with (`. The other call sites keep 0.15.1's anchors.
EDITS_0_20_2: list[Edit] = [
    (
        "vllm/model_executor/layers/fused_moe/runner/moe_runner.py",
        "from vllm.platforms import current_platform\n",
        IMPORT,
        "after",
        1,
    ),
    (
        "vllm/model_executor/layers/fused_moe/runner/moe_runner.py",
        "            topk_weights, topk_ids = self.router.select_experts(\n"
        "                hidden_states=hidden_states,\n"
        "                router_logits=router_logits,\n"
        "                input_ids=input_ids,\n"
        "            )\n",
        "            if moe_prof_glue.ENABLED:\n"
        "                moe_prof_glue.record(\n"
        "                    layer, topk_ids, topk_weights, dispatched=self.do_naive_dispatch_combine\n"
        "                )\n",
        "after",
        1,
    ),
    EDITS_0_15_1[3],  # core.py import
    EDITS_0_15_1[4],  # EngineCore.__init__, at its end
    EDITS_0_15_1[5],  # EngineCore.shutdown
    EDITS_0_15_1[6],  # gpu_model_runner.py import
    (
        "vllm/v1/worker/gpu_model_runner.py",
        "        # Run the model.\n        # Use persistent buffers for CUDA graphs.\n"
        "        # When spec decode is enabled, defer connector finalization\n",
        "        if moe_prof_glue.ENABLED:\n"
        "            moe_prof_glue.begin_step(\n"
        "                self, num_scheduled_tokens_np, num_tokens_unpadded, input_ids\n"
        "            )\n\n",
        "before",
        1,
    ),
    EDITS_0_15_1[8],  # end_step, before the postprocess block
    EDITS_0_15_1[9],  # gpu_worker.py import
    (
        "vllm/v1/worker/gpu_worker.py",
        "            self.model_runner.load_model(load_dummy_weights=load_dummy_weights)\n",
        "        if moe_prof_glue.ENABLED:\n            moe_prof_glue.on_model_loaded(self)\n",
        "after",
        1,
    ),
    EDITS_0_15_1[11],  # Worker.shutdown
    EDITS_0_15_1[12],  # Worker.moe_prof_control
]


def _check_0_15_1(edited: dict[str, tuple[str, str]]) -> None:
    """The chunked record() edit must have landed in process_chunk (before forward_impl), the plain one after."""
    layer = edited["vllm/model_executor/layers/fused_moe/layer.py"][1]
    a, b = layer.find("row_offset=chunk_start"), layer.find("dispatched=do_naive_dispatch_combine")
    if not (0 < a < layer.find("    def forward_impl(\n") < b):
        raise GenError("layer.py: record() call sites did not land in forward_impl_chunked and forward_impl")


class Release:
    """A supported vLLM release: its call sites and a check of where they landed."""

    def __init__(
        self, version: str, edits: list[Edit], check: Callable[[dict[str, tuple[str, str]]], None] | None = None
    ) -> None:
        self.version, self.edits, self.check = version, edits, check

    @property
    def patch(self) -> str:
        return os.path.join(ROOT, "patches", f"vllm-v{self.version}-moe-logger.patch")

    @property
    def adapter(self) -> str:
        return os.path.join(ADAPTERS_DIR, "v" + self.version.replace(".", "_") + ".py")


RELEASES = {r.version: r for r in (Release("0.15.1", EDITS_0_15_1, _check_0_15_1), Release("0.20.2", EDITS_0_20_2))}
DEFAULT = RELEASES["0.15.1"]
PATCH = DEFAULT.patch  # the default release's patch (what callers that name no release mean)


class GenError(Exception):
    pass


def _rel(path: str) -> str:
    return os.path.relpath(path, ROOT)


def _generated(src: str, text: str) -> str:
    return f"# Generated by scripts/gen-vllm-patch.py from {_rel(src)}; do not edit.\n" + text


def new_files(release: Release = DEFAULT) -> dict[str, str]:
    """The package the patch creates, path (relative to site-packages) -> content: the capture core,
    the glue, and the adapters package holding this release's adapter only."""
    out: dict[str, str] = {}
    for name in CORE_FILES:
        src = os.path.join(CORE_DIR, name)
        with open(src, encoding="utf-8") as f:
            out[f"{PKG}/{name}"] = _generated(src, f.read())
    with open(GLUE, encoding="utf-8") as f:
        glue = f.read()
    # python/moe_prof/vllm_glue.py sits beside capture/; in vLLM both live in one package.
    glue = re.sub(r"^(\s*)from \.capture\.(\w+) import", r"\1from .\2 import", glue, flags=re.M)
    glue = re.sub(r"^(\s*)from \.capture import", r"\1from . import", glue, flags=re.M)
    if ".capture." in glue.replace("capture.capture", "") and "from .capture" in glue:
        raise GenError("vllm_glue.py: an import of .capture was not rewritten")
    out[f"{PKG}/glue.py"] = _generated(GLUE, glue)
    for src in (os.path.join(ADAPTERS_DIR, "__init__.py"), release.adapter):
        try:
            with open(src, encoding="utf-8") as f:
                out[f"{PKG}/vllm_adapters/{os.path.basename(src)}"] = _generated(src, f.read())
        except OSError as e:
            raise GenError(f"{_rel(src)}: cannot read the adapter ({e.strerror})") from None
    return out


def edited_files(vllm_src: str, release: Release = DEFAULT) -> dict[str, tuple[str, str]]:
    """path -> (pristine, edited) for the call-site edits."""
    result: dict[str, tuple[str, str]] = {}
    what = f"is this vLLM {release.version}?"
    for path, anchor, insert, where, expected in release.edits:
        if path not in result:
            full = os.path.join(vllm_src, path)
            try:
                with open(full, encoding="utf-8") as f:
                    text = f.read()
            except OSError as e:
                raise GenError(f"{full}: cannot read pristine vLLM file ({e.strerror})") from None
            result[path] = (text, text)
        pristine, text = result[path]
        count = text.count(anchor)
        if where == "before_apply":
            # the anchor occurs in both MoE paths; edit the first one not yet edited
            if count < expected:
                raise GenError(f"{path}: call-site anchor not found ({what}): {anchor[:60]!r}")
            i = text.index(anchor)
            cut = i + anchor.index("                final_hidden_states")
            text = text[:cut] + insert + text[cut:]
        else:
            if count != expected:
                raise GenError(f"{path}: anchor found {count} times, expected {expected} ({what}): {anchor[:60]!r}")
            i = text.index(anchor)
            text = (
                text[: i + len(anchor)] + insert + text[i + len(anchor) :]
                if where == "after"
                else text[:i] + insert + text[i:]
            )
        result[path] = (pristine, text)
    if release.check is not None:
        release.check(result)
    return result


def _diff(path: str, old: str | None, new: str) -> str:
    a = old.splitlines(keepends=True) if old is not None else []
    b = new.splitlines(keepends=True)
    lines = list(difflib.unified_diff(a, b, "/dev/null" if old is None else f"a/{path}", f"b/{path}", n=3))
    for ln in lines:
        if not ln.endswith("\n"):
            raise GenError(f"{path}: file does not end with a newline")
    return "".join(lines)


def render_patch(vllm_src: str, release: Release = DEFAULT) -> str:
    parts = [
        f"moe-prof: MoE route logging for vLLM {release.version} (VLLM_LOG_MOE). Generated by\n"
        "scripts/gen-vllm-patch.py from python/moe_prof; apply with `patch -p1` in the\n"
        "directory that holds vllm/.\n\n"
    ]
    for path, (old, new) in sorted(edited_files(vllm_src, release).items()):
        parts.append(_diff(path, old, new))
    for path, content in sorted(new_files(release).items()):
        parts.append(_diff(path, None, content))
    return "".join(parts)


def new_files_in_patch(patch_text: str) -> dict[str, str]:
    """Contents of the files the patch creates (hunks from /dev/null)."""
    out: dict[str, str] = {}
    blocks = re.split(r"^--- ", patch_text, flags=re.M)
    for block in blocks[1:]:
        head, _, body = block.partition("\n")
        if head.strip() != "/dev/null":
            continue
        plus, _, hunks = body.partition("\n")
        path = plus[len("+++ b/") :].strip()
        lines = [ln[1:] for ln in hunks.splitlines(keepends=True) if ln.startswith("+")]
        out[path] = "".join(lines)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vllm", default=DEFAULT.version, choices=sorted(RELEASES), help="the vLLM release")
    ap.add_argument("--vllm-src", help="directory holding that release's pristine vllm/ (its wheel's files)")
    ap.add_argument("--check", action="store_true", help="compare with the committed patch instead of writing")
    ap.add_argument("--new-files-only", action="store_true", help="with --check: compare only the generated package")
    args = ap.parse_args()
    release = RELEASES[args.vllm]
    patch = release.patch
    redo = f"run scripts/gen-vllm-patch.py --vllm {release.version} --vllm-src DIR"
    try:
        if args.new_files_only:
            if not args.check:
                raise GenError("--new-files-only works with --check only")
            with open(patch, encoding="utf-8") as f:
                got = new_files_in_patch(f.read())
            want = new_files(release)
            bad = sorted(p for p in set(got) | set(want) if got.get(p) != want.get(p))
            if bad:
                raise GenError(f"{_rel(patch)} is stale for {', '.join(bad)}: {redo}")
            print(f"{_rel(patch)}: generated package up to date ({len(want)} files)")
            return 0
        if not args.vllm_src:
            raise GenError(f"--vllm-src DIR is required (a directory holding pristine vllm/ {release.version} files)")
        text = render_patch(args.vllm_src, release)
        if args.check:
            with open(patch, encoding="utf-8") as f:
                if f.read() != text:
                    raise GenError(f"{_rel(patch)} differs from what python/ generates: {redo}")
            print(f"{_rel(patch)}: up to date")
            return 0
        tmp = patch + ".tmp"
        os.makedirs(os.path.dirname(patch), exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, patch)
        print(f"wrote {_rel(patch)}")
        return 0
    except GenError as e:
        print(f"gen-vllm-patch: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
