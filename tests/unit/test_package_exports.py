import importlib
import json
import subprocess
import sys

import pytest

import metrics_api.oci as core
from metrics_api.oci import jobs

pytestmark = pytest.mark.unit


def test_importing_the_package_loads_none_of_its_modules_nor_their_dependencies() -> None:
    script = (
        "import json, sys\n"
        "import metrics_api.oci\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith("
        "('metrics_api.oci.', 'pydantic', 'httpx', 'anyio')))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(result.stdout) == []


def test_every_exported_name_resolves_to_its_definition() -> None:
    for name in core.__all__:
        value = getattr(core, name)
        assert value.__name__ == name
        assert value.__module__.startswith("metrics_api.oci.")


def test_the_jobs_keep_their_names_after_their_modules_are_imported() -> None:
    for name in ("assemble", "resolve", "verify"):
        importlib.import_module(f"metrics_api.oci.release.{name}")
        assert getattr(core, name) is getattr(jobs, name)
    from metrics_api.oci import assemble, resolve, verify  # noqa: PLC0415 - after the modules

    assert (assemble, resolve, verify) == (jobs.assemble, jobs.resolve, jobs.verify)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = core.Nope
