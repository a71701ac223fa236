"""The worker's protocol channel and job checks, run as a real subprocess (no GPU needed)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from moe_prof.worker.job import JobError, load_job

PYTHON_DIR = pathlib.Path(__file__).resolve().parents[1]


def _job(tmp_path: pathlib.Path, **over: object) -> str:
    job = {
        "engine": "hf", "pass_name": "log", "model": "m", "prompts": ["a", "b"], "seed": 1,
        "max_tokens": 4, "temperature": 0, "routes_path": str(tmp_path / "r.jsonl"),
    }
    job.update(over)
    p = tmp_path / "job.json"
    p.write_text(json.dumps(job))
    return str(p)


def _run_worker(job: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(PYTHON_DIR)}
    args = [sys.executable, "-m", "moe_prof.worker", "--job", job]
    if code is not None:  # run the worker entry point after some code that prints to stdout
        args = [sys.executable, "-c", code + "\nimport sys\nfrom moe_prof.worker.__main__ import main\nsys.exit(main(['--job', %r]))" % job]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)


def test_load_job_reads_fields_and_keeps_unknown_keys(tmp_path: pathlib.Path) -> None:
    job = load_job(_job(tmp_path, layers="0,5-7", future_key=3))
    assert job.engine == "hf" and job.prompts == ["a", "b"] and job.layers == "0,5-7"
    assert job.extra == {"future_key": 3}
    assert job.warmup_prompts == 2 and job.enforce_eager is False


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"engine": "tgi"}, "engine: expected 'vllm' or 'hf', got 'tgi'"),
        ({"pass_name": "both"}, "pass_name: expected 'no_log' or 'log', got 'both'"),
        ({"prompts": []}, "prompts: expected a non-empty list of strings"),
        ({"prompts": ["a", 3]}, "prompts: expected a non-empty list of strings"),
    ],
)
def test_load_job_rejects_bad_fields(tmp_path: pathlib.Path, over: dict[str, object], message: str) -> None:
    with pytest.raises(JobError, match=message):
        load_job(_job(tmp_path, **over))


def test_load_job_names_missing_fields(tmp_path: pathlib.Path) -> None:
    p = tmp_path / "job.json"
    p.write_text(json.dumps({"engine": "hf"}))
    with pytest.raises(JobError, match="missing job fields: pass_name, model, prompts"):
        load_job(str(p))


def test_bad_job_is_one_error_message_on_the_protocol_channel(tmp_path: pathlib.Path) -> None:
    r = _run_worker(_job(tmp_path, prompts=[]))
    assert r.returncode == 3
    msgs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [m["type"] for m in msgs] == ["hello", "error"]
    assert msgs[0]["protocol"] == 1
    assert msgs[1]["kind"] == "JobError" and "prompts: expected a non-empty list" in msgs[1]["message"]
    assert "Traceback" in r.stderr  # the full story goes to the log, not the protocol


def test_other_output_on_fd1_goes_to_stderr_not_the_protocol(tmp_path: pathlib.Path) -> None:
    # Libraries (vLLM's logger, C extensions, child processes) print to fd 1 after the worker
    # claimed stdout: none of it may reach the protocol stream.
    code = (
        "import atexit, os\n"
        "atexit.register(lambda: (print('python print'), os.write(1, b'raw fd1\\n')))"
    )
    r = _run_worker(_job(tmp_path, prompts=[]), code)
    assert all(json.loads(line)["type"] in ("hello", "error") for line in r.stdout.splitlines())
    assert "python print" in r.stderr and "raw fd1" in r.stderr
