import pkgutil
import subprocess
import sys

import pytest

import metrics_api.oci

pytestmark = pytest.mark.unit


def test_core_never_imports_dagger() -> None:
    modules = [
        info.name for info in pkgutil.walk_packages(metrics_api.oci.__path__, "metrics_api.oci.")
    ]
    assert "metrics_api.oci.registry.client" in modules
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m == 'dagger' or m.startswith('dagger.')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
