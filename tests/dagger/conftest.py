"""The module as the SDK registers it, described once per session."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

DESCRIBE = Path(__file__).with_name("describe_module.py")


@pytest.fixture(scope="session")
def functions() -> dict[str, Any]:
    """Each function of the main object: docs, cache policy, result and arguments."""
    result = subprocess.run(
        [sys.executable, str(DESCRIBE)], capture_output=True, text=True, check=True, timeout=120
    )
    described: dict[str, Any] = json.loads(result.stdout)
    assert list(described) == ["MetricsApi"]
    return {name: value for name, value in described["MetricsApi"].items() if name}
