"""The worker's protocol channel and job checks, run as a real subprocess (no GPU needed)."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import subprocess
import sys

import pytest
from moe_prof.worker.job import Job, JobError, load_job, load_schema

PYTHON_DIR = pathlib.Path(__file__).resolve().parents[1]


FULL_JOB: dict[str, object] = {
    "engine": "hf",
    "pass_name": "log",
    "model": "m",
    "prompts": ["a", "b"],
    "seed": 1,
    "max_tokens": 4,
    "temperature": 0,
    "routes_path": "/tmp/r.jsonl",
    "log_format": "jsonl",
    "layers": None,
    "warmup_prompts": 2,
    "warmup_max_tokens": 16,
    "tensor_parallel_size": 1,
    "gpu_memory_utilization": 0.9,
    "max_model_len": None,
    "enforce_eager": False,
    "deterministic": False,
    "chat_template": True,
    "random_weights": False,
    "config_dir": None,
    "tokenizer": None,
    "dtype": "bfloat16",
    "device": "cuda",
    "load_format": "auto",
    "engine_args": {},
}


def _job(tmp_path: pathlib.Path, drop: tuple[str, ...] = (), **over: object) -> str:
    job = {**FULL_JOB, "routes_path": str(tmp_path / "r.jsonl"), **over}
    for k in drop:
        del job[k]
    p = tmp_path / "job.json"
    p.write_text(json.dumps(job))
    return str(p)


def _run_worker(job: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(PYTHON_DIR)}
    args = [sys.executable, "-m", "moe_prof.worker", "--job", job]
    if code is not None:  # run the worker entry point after some code that prints to stdout
        args = [
            sys.executable,
            "-c",
            code + f"\nimport sys\nfrom moe_prof.worker.__main__ import main\nsys.exit(main(['--job', {job!r}]))",
        ]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)


def test_load_job_reads_every_field(tmp_path: pathlib.Path) -> None:
    job = load_job(_job(tmp_path, layers=[0, 5, 6, 7], engine_args={"max_num_seqs": 8}))
    assert job.engine == "hf" and job.prompts == ["a", "b"] and job.layers == [0, 5, 6, 7]
    assert job.engine_args == {"max_num_seqs": 8} and job.warmup_prompts == 2 and job.device == "cuda"


def test_job_dataclass_mirrors_the_schema() -> None:
    """The schema (generated from src/worker/job.ts) is the definition; Job only mirrors it."""
    schema = load_schema()
    assert list(Job.__dataclass_fields__) == list(schema["properties"])
    # optional in the schema <=> a default in the dataclass
    optional = [f.name for f in dataclasses.fields(Job) if f.default is not dataclasses.MISSING]
    assert sorted(schema["required"]) == sorted(k for k in schema["properties"] if k not in optional)


@pytest.mark.parametrize(
    ("over", "drop", "message"),
    [
        ({"engine": "tgi"}, (), "engine: expected one of 'vllm', 'hf', got 'tgi'"),
        ({"pass_name": "both"}, (), "pass_name: expected one of 'no_log', 'log', got 'both'"),
        ({"prompts": []}, (), "prompts: needs at least 1 items"),
        ({"prompts": ["a", 3]}, (), r"prompts\[1\]: expected string, got int"),
        ({"layers": "0,5-7"}, (), "layers: expected array, got str"),
        ({"layers": [0, -1]}, (), r"layers\[1\]: must be >= 0"),
        ({"seed": 1.5}, (), "seed: expected integer, got float"),
        ({"gpu_memory_utilization": 0}, (), "gpu_memory_utilization: must be > 0"),
        ({"future_key": 3}, (), "future_key: not a job field"),
        ({}, ("device",), "job.device: missing"),
    ],
)
def test_load_job_rejects_bad_fields(
    tmp_path: pathlib.Path, over: dict[str, object], drop: tuple[str, ...], message: str
) -> None:
    with pytest.raises(JobError, match=message):
        load_job(_job(tmp_path, drop, **over))


def test_bad_job_is_one_error_message_on_the_protocol_channel(tmp_path: pathlib.Path) -> None:
    r = _run_worker(_job(tmp_path, prompts=[]))
    assert r.returncode == 3
    msgs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [m["type"] for m in msgs] == ["hello", "error"]
    assert msgs[0]["protocol"] == 1
    assert msgs[1]["kind"] == "JobError" and "prompts: needs at least 1 items" in msgs[1]["message"]
    assert "Traceback" in r.stderr  # the full story goes to the log, not the protocol


def test_other_output_on_fd1_goes_to_stderr_not_the_protocol(tmp_path: pathlib.Path) -> None:
    # Libraries (vLLM's logger, C extensions, child processes) print to fd 1 after the worker
    # claimed stdout: none of it may reach the protocol stream.
    code = "import atexit, os\natexit.register(lambda: (print('python print'), os.write(1, b'raw fd1\\n')))"
    r = _run_worker(_job(tmp_path, prompts=[]), code)
    assert all(json.loads(line)["type"] in ("hello", "error") for line in r.stdout.splitlines())
    assert "python print" in r.stderr and "raw fd1" in r.stderr
