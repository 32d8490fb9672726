"""The command line's process ends as the interpreter would, without its teardown.

What an exit must do is done (``atexit`` functions, output flushed, the exit code); the
modules' objects are not freed one by one (``cli.run``).
"""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

WITH_AN_ATEXIT_FUNCTION_AND_AN_OBJECT_TO_FREE = """\
import atexit, sys

class Held:
    def __del__(self):
        print("freed at the teardown", file=sys.stderr)

held = Held()
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
            WITH_AN_ATEXIT_FUNCTION_AND_AN_OBJECT_TO_FREE,
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
    )

    assert result.returncode == 2
    assert json.loads(result.stdout)["ok"] is False
    error, atexit_line = result.stderr.splitlines()
    assert error.startswith("error: --variant 'linux/amd64': expected PLATFORM=REFERENCE")
    assert atexit_line == "atexit ran"
    assert "freed at the teardown" not in result.stderr
