"""The command line's process ends as the interpreter would, without its teardown.

What an exit must do is still done (``atexit`` functions, output flushed, the exit code),
and a reader of stdout that went away is one warning (``cli.run``, ``cli._to_stdout``).
"""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

# Output buffered as a CI system's pipe gets it, so that what the exit flushes counts.
BUFFERED = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}

WITH_AN_ATEXIT_FUNCTION = """\
import atexit, sys
atexit.register(lambda: print("atexit ran", file=sys.stderr))
sys.argv = ["metrics-oci", *sys.argv[1:]]
from metrics_api.oci.__main__ import start
start()
"""


def test_the_exit_runs_atexit_flushes_its_output_and_keeps_its_code() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            WITH_AN_ATEXIT_FUNCTION,
            "assemble",
            "registry.example/metrics-api:v2.0.0",
            "--variant",
            "linux/amd64",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=BUFFERED,
    )

    assert result.returncode == 2
    assert json.loads(result.stdout)["ok"] is False
    error, atexit_line = result.stderr.splitlines()
    assert error.startswith("error: --variant 'linux/amd64': expected PLATFORM=REFERENCE")
    assert atexit_line == "atexit ran"


def test_a_closed_stdout_is_one_warning_and_the_job_s_own_exit_code() -> None:
    """``| head`` closed the pipe: no traceback, and the code still says how the job ended."""
    command = ["assemble", "r.example/m:v1", "--variant", "linux/amd64", "--json"]
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "metrics_api.oci", *command],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            timeout=60,
            env=BUFFERED,
        )
    finally:
        os.close(write_end)

    warning, error = result.stderr.splitlines()
    assert result.returncode == 2
    assert warning == (
        "warning: stdout was closed before the report was written (broken pipe); the exit "
        "code still says how the job ended"
    )
    assert error.startswith("error: --variant 'linux/amd64': expected PLATFORM=REFERENCE")
