"""`python -m moe_prof.worker --job JOB.json`: one pass (no-log or log) of a moe-prof run.

Protocol (JSON lines on the original stdout; everything else goes to stderr):
  hello -> ready (engine description, load time) -> phase warmup -> phase generate
  -> progress* -> result | error
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

from moe_prof.worker.protocol import PROTOCOL_VERSION, claim_stdout

EXIT_WORKER_FAILED = 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m moe_prof.worker")
    parser.add_argument("--job", required=True, help="job JSON written by `moe-prof run`")
    args = parser.parse_args(argv)
    channel = claim_stdout()
    channel.send("hello", protocol=PROTOCOL_VERSION, pid=os.getpid(), python=sys.version.split()[0])
    try:
        from moe_prof.worker.run_pass import run_pass

        run_pass(args.job, channel)
        return 0
    except Exception as exc:  # every failure reaches the TS side as one protocol message
        traceback.print_exc(file=sys.stderr)
        channel.send("error", message=_one_line(exc), kind=type(exc).__name__)
        return EXIT_WORKER_FAILED


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:500]


if __name__ == "__main__":
    sys.exit(main())
