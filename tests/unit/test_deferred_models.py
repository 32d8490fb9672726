"""Our models build their validators after the command line's input is read, not before.

Each case runs in a fresh interpreter: which models are built is the process's state.
"""

import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

PARSE_THEN_LIST = """\
from metrics_api.oci import cli, inputs
from metrics_api.oci.deferred_models import unbuilt_models
inputs.parse_requests(
    ["linux/amd64=registry.example/metrics-api:v2.0.0-amd64",
     "linux/arm64=registry.example/metrics-api:v2.0.0-arm64"],
    ["linux/arm64=sha256:" + "a" * 64],
    ("--variant", "--expect"),
)
print(" ".join(model.__qualname__ for model in unbuilt_models()))
from metrics_api.oci.spec.models import Descriptor
Descriptor.model_rebuild()
print(" ".join(model.__qualname__ for model in unbuilt_models()))
"""


def test_reading_the_input_builds_no_model_and_bases_come_first() -> None:
    listed = subprocess.run(
        [sys.executable, "-c", PARSE_THEN_LIST],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.splitlines()

    before, after = (line.split() for line in listed)
    assert {"Platform", "Descriptor", "ImageIndex", "AssembleReport"} <= set(before)
    assert before.index("_SpecModel") < before.index("Descriptor") < before.index("ImageIndex")
    assert set(before) - set(after) == {"Descriptor"}, "a model once built is not listed"
