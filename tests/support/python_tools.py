"""Python programs the tests run, pinned, each in its own virtual environment outside .venv.

A test tool's dependencies must not join the environment the product runs and is measured
in: spdx-tools brings click, and with click installed ``import httpx`` also imports httpx's
own command line (click, rich, pygments), about 50 ms of every start of ours. So each tool
gets ``/var/cache/metrics-api-tools/NAME@VERSION/`` (made by uv, relocatable, renamed into
place once complete, as the Go tools are); ``scripts/setup.sh`` installs them
(``python -m support.python_tools``); a test that finds one missing fails and says how.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .go_tools import CACHE, INSTALL_TIMEOUT
from .proc import ToolMissingError, run


@dataclass(frozen=True)
class PythonTool:
    """A program from PyPI at a pinned version, and the script that runs it."""

    name: str
    version: str
    script: str

    @property
    def path(self) -> Path:
        """The script, once installed."""
        return CACHE / f"{self.name}@{self.version}" / "bin" / self.script

    @property
    def installed(self) -> bool:
        """Its script is there, and the interpreter its environment links to."""
        return self.path.is_file() and (self.path.parent / "python").exists()

    @property
    def install_command(self) -> str:
        """The command that installs it by hand."""
        return f"PYTHONPATH=tests .venv/bin/python -m support.python_tools  # {self.name}"


# An independent reader of our SBOMs: its validator says whether a document is SPDX 2.3.
SPDX_TOOLS = PythonTool("spdx-tools", "0.8.5", "pyspdxtools")
TOOLS: tuple[PythonTool, ...] = (SPDX_TOOLS,)


def require_python_tool(tool: PythonTool) -> str:
    """The installed script's path, or ToolMissingError saying how to install it."""
    if tool.installed:
        return str(tool.path)
    raise ToolMissingError(
        f"{tool.name} {tool.version}",
        hint=f"run `bash scripts/test.sh` (it installs it) or `{tool.install_command}`",
    )


def install(tool: PythonTool) -> Path:
    """Install ``tool`` into its own environment unless it is there already; its script."""
    if tool.installed:
        return tool.path
    CACHE.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{tool.name}@{tool.version}-", dir=CACHE))
    uv = [sys.executable, "-m", "uv"]
    # The interpreter itself, not .venv's link to it: the cache outlives any one checkout.
    interpreter = str(Path(sys.executable).resolve())
    try:
        shutil.rmtree(tool.path.parent.parent, ignore_errors=True)  # one whose link broke
        run([*uv, "venv", "-q", "--relocatable", "--python", interpreter, str(staging)])
        python = str(staging / "bin" / "python")
        package = f"{tool.name}=={tool.version}"
        run([*uv, "pip", "install", "-q", "--python", python, package], timeout=INSTALL_TIMEOUT)
        staging.chmod(0o755)
        staging.rename(tool.path.parent.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return tool.path


def main() -> None:
    """Install every pinned tool that is missing; say which."""
    for tool in TOOLS:
        if not tool.installed:
            print(f"installing {tool.name}=={tool.version} into {tool.path.parent.parent}")  # noqa: T201
            install(tool)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
