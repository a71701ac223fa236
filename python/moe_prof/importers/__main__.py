"""python -m moe_prof.importers FORMAT INPUT... --out OUT.jsonl: what `moe-prof import` runs.
Exit 0 with one line of JSON on stdout ({"rows": N, "meta": {...}}); 1 with one line on stderr
for input that cannot be imported; 2 for usage."""

from __future__ import annotations

import argparse
import json
import sys

from . import ImportError_, sglang, vllm_routed
from .routes_out import write_routes


def _layers(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x != ""]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m moe_prof.importers")
    ap.add_argument("format", choices=[sglang.FORMAT, vllm_routed.FORMAT])
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--out", required=True)
    ap.add_argument("--model-id", default="unknown")
    ap.add_argument("--num-experts", type=int)
    ap.add_argument("--layers", type=_layers, help="vLLM: the MoE layers (default: those not all zeros)")
    a = ap.parse_args(argv)
    try:
        if a.format == sglang.FORMAT:
            meta, rows = sglang.convert(a.inputs, model_id=a.model_id, num_experts=a.num_experts)
        else:
            meta, rows = vllm_routed.convert(a.inputs, model_id=a.model_id, num_experts=a.num_experts, layers=a.layers)
        n = write_routes(a.out, meta, rows)
    except ImportError_ as e:
        print(str(e), file=sys.stderr)
        return 1
    except OSError as e:
        print(f"{a.out}: cannot write: {e.strerror or e}", file=sys.stderr)
        return 2
    print(json.dumps({"rows": n, "meta": meta}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
