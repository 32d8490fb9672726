"""The Python SDK as a Dagger engine bundles it, and the runtime's install step, without an engine.

The engine mounts its own copy of the SDK source at ``sdk/`` of the module, declared as
version ``0.0.0`` (sdk/python/pyproject.toml in Dagger's source), then installs the module
(sdk/python/runtime/main.go: ``WithUpdates`` and ``WithInstall``):

- with ``uv.lock``: ``uv lock``, then ``uv sync --no-dev``;
- without: ``uv pip install -e ./sdk -e .``, then ``uv pip check``.

Here ``sdk/`` is made from the dagger-io source distribution on PyPI of the version the
tests run against, with its version rewritten to ``0.0.0``; ``install_module`` runs the
same commands. ``python tests/support/dagger_sdk.py lock`` regenerates the project's
``uv.lock`` the way a developer's ``dagger develop`` would.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import sys
import tarfile
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from support.proc import run

if TYPE_CHECKING:
    from collections.abc import Mapping

ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = Path(os.environ.get("METRICS_API_SDK_CACHE") or Path.home() / ".cache/metrics-api")
SIMPLE_INDEX = "https://pypi.org/simple/dagger-io/"
# What of the SDK's source the engine passes to the runtime (main.go, sdkSourceDir +ignore).
SDK_FILES = ("pyproject.toml", "README.md", "LICENSE", "src")
BUNDLED_VERSION = "0.0.0"
# The engine's sdk/ also holds the SDK's codegen package, a uv workspace member its
# pyproject.toml names; the source distribution lacks it, so a stand-in of the same
# name, version and dependencies keeps the workspace whole (its code is never run here).
CODEGEN_PYPROJECT = """\
[project]
name = "codegen"
version = "0.0.0"
requires-python = ">=3.10"
dependencies = ["graphql-core>=3.2.3"]

[build-system]
requires = ["uv_build>=0.8.4,<0.9.0"]
build-backend = "uv_build"
"""
INSTALL_TIMEOUT = 600.0


def sdk_version() -> str:
    """The dagger-io version the tests run against (pinned in the test extra)."""
    return importlib.metadata.version("dagger-io")


def _sdist(version: str) -> Path:
    """The dagger-io source distribution, downloaded once and checked against its sha256."""
    name = f"dagger_io-{version}.tar.gz"
    path = CACHE_DIR / name
    if path.exists():
        return path
    request = urllib.request.Request(
        SIMPLE_INDEX, headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
        files = json.load(answer)["files"]
    entry = next((f for f in files if f["filename"] == name), None)
    if entry is None:
        msg = f"PyPI lists no {name}; is dagger-io {version} released?"
        raise RuntimeError(msg)
    with urllib.request.urlopen(entry["url"], timeout=120) as answer:  # noqa: S310
        data = answer.read()
    if hashlib.sha256(data).hexdigest() != entry["hashes"]["sha256"]:
        msg = f"{name} from PyPI does not match its published sha256"
        raise RuntimeError(msg)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(path)
    return path


def make_bundled_sdk(destination: Path, version: str | None = None) -> Path:
    """Lay out ``destination`` as the engine's ``sdk/``: dagger-io's source at ``0.0.0``."""
    version = version or sdk_version()
    top = f"dagger_io-{version}"
    with tarfile.open(_sdist(version)) as archive:
        extracted = destination.parent / f".{top}"
        shutil.rmtree(extracted, ignore_errors=True)
        archive.extractall(extracted, filter="data")
    shutil.rmtree(destination, ignore_errors=True)
    destination.mkdir(parents=True)
    for name in SDK_FILES:
        source = extracted / top / name
        if source.is_dir():
            shutil.copytree(source, destination / name)
        else:
            shutil.copy2(source, destination / name)
    shutil.rmtree(extracted)
    pyproject = destination / "pyproject.toml"
    text, count = re.subn(
        r'(?m)^version = "[^"]+"$', f'version = "{BUNDLED_VERSION}"', pyproject.read_text()
    )
    if count != 1:
        msg = f"expected one version line in dagger-io's pyproject.toml, found {count}"
        raise RuntimeError(msg)
    pyproject.write_text(text)
    codegen = destination / "codegen"
    (codegen / "src/codegen").mkdir(parents=True)
    (codegen / "src/codegen/__init__.py").write_text("")
    (codegen / "pyproject.toml").write_text(CODEGEN_PYPROJECT)
    return destination


def copy_module(destination: Path) -> Path:
    """The module's files that git does not ignore (the context the engine loads)."""
    listed = run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT
    ).stdout.split("\0")
    for name in filter(lambda name: name and (ROOT / name).is_file(), listed):
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    return destination


def _uv() -> list[str]:
    # The binary itself: `python -m uv` points `uv pip` at that Python, not at VIRTUAL_ENV.
    from uv import find_uv_bin  # noqa: PLC0415 - a test dependency, needed only here

    return [find_uv_bin()]


def install_module(module: Path, environment: Path) -> list[list[str]]:
    """Install ``module`` into the virtualenv ``environment`` as the runtime does.

    Returns the commands run, in order (each must succeed).
    """
    env: Mapping[str, str] = {
        **os.environ,
        "UV_COMPILE_BYTECODE": "1",
        "UV_LINK_MODE": "copy",
        "UV_PROJECT_ENVIRONMENT": str(environment),
        "VIRTUAL_ENV": str(environment),
    }
    # The runtime's image has one Python; here the environment is made with this one.
    run([*_uv(), "venv", "--python", sys.executable, str(environment)], cwd=module, env=env)
    if (module / "uv.lock").exists():
        commands = [[*_uv(), "lock"], [*_uv(), "sync", "--no-dev"]]
    else:
        commands = [
            [*_uv(), "pip", "install", "-e", "./sdk", "-e", "."],
            [*_uv(), "pip", "check"],
        ]
    for command in commands:
        run(command, cwd=module, env=env, timeout=INSTALL_TIMEOUT)
    return commands


def lock() -> None:
    """Regenerate the project's uv.lock against the SDK as the engine bundles it."""
    make_bundled_sdk(ROOT / "sdk")
    run([*_uv(), "lock"], cwd=ROOT, timeout=INSTALL_TIMEOUT)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "tests"))
    if sys.argv[1:] != ["lock"]:
        sys.exit("usage: python tests/support/dagger_sdk.py lock")
    lock()
