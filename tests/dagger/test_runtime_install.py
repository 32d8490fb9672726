"""The Python SDK runtime's install and load of this module, step for step, without an engine."""

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from support.dagger_sdk import (
    ROOT,
    copy_module,
    install_module,
    make_bundled_sdk,
    sdk_version,
)
from support.proc import CommandError, run

pytestmark = pytest.mark.dagger

DESCRIBE = Path(__file__).with_name("describe_module.py")
ROOT_VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_the_runtime_installs_the_module_with_the_shipped_lock(tmp_path: Path) -> None:
    module = copy_module(tmp_path / "module")
    make_bundled_sdk(module / "sdk")
    environment = tmp_path / "venv"

    commands = install_module(module, environment)

    assert [command[1:] for command in commands] == [["lock"], ["sync", "--no-dev"]]
    assert (module / "uv.lock").read_text() == (ROOT / "uv.lock").read_text(), (
        "uv lock changed the shipped uv.lock: regenerate it "
        "(PYTHONPATH=tests python -m support.dagger_sdk lock)"
    )
    python = environment / "bin/python"
    where = "import dagger, importlib.metadata as m; print(m.version('dagger-io'), dagger.__file__)"
    version = run([str(python), "-c", where]).stdout.split()
    assert version[0] == "0.0.0"
    assert version[1].startswith(str(module / "sdk")), "dagger must come from the bundled sdk/"
    # The command line for CI without Dagger is installed with the package.
    script = run([str(environment / "bin/metrics-oci"), "--version"]).stdout
    assert script == f"metrics-oci {ROOT_VERSION}\n"

    # The runtime's entry point loads the main object through the dagger.mod entry point.
    described: dict[str, Any] = json.loads(run([str(python), str(DESCRIBE)], cwd=module).stdout)
    functions = described["MetricsApi"]
    assert sorted(name for name in functions if name) == [
        "assemble",
        "build",
        "publish_variant",
        "rebuild",
        "release",
        "release_layout",
        "verify",
    ]


def test_a_pinned_sdk_is_what_broke_the_module_on_an_engine(tmp_path: Path) -> None:
    """The same steps with `dagger-io==0.21.11` fail the way a real engine failed."""
    module = copy_module(tmp_path / "module")
    make_bundled_sdk(module / "sdk")
    (module / "uv.lock").unlink()
    pyproject = module / "pyproject.toml"
    pinned, count = re.subn(r'"dagger-io",', '"dagger-io==0.21.11",', pyproject.read_text())
    assert count == 1
    pyproject.write_text(pinned)

    with pytest.raises(CommandError) as failure:
        install_module(module, tmp_path / "venv")

    assert "requires `dagger-io==0.21.11`, but `0.0.0` is installed" in str(failure.value)


def test_the_tests_run_against_the_sdk_of_the_engine_version() -> None:
    engine = json.loads((ROOT / "dagger.json").read_text())["engineVersion"]
    assert f"v{sdk_version()}" == engine
