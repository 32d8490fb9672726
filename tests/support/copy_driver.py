"""Run one streaming job of the core in a process of its own, and report its memory.

    python -m support.copy_driver blob SOURCE_REPO_REF TARGET_REPO_REF DIGEST
    python -m support.copy_driver layout INDEX_REF DIRECTORY

Prints one JSON object: the resident set of this process right before the copy (everything
imported, a client open) and its peak during the copy, in KiB. The peak is reset right
before the copy (Linux: ``5`` written to ``/proc/self/clear_refs`` resets ``VmHWM``), so an
earlier peak (the imports) cannot hide what the copy itself held.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from metrics_api.oci import Settings, open_client, parse_reference
from metrics_api.oci.registry.blobcopy import copy_blob
from metrics_api.oci.release.layout import write_layout

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from metrics_api.oci.registry.client import RegistryClient

STATUS = Path("/proc/self/status")
TESTS = Path(__file__).resolve().parents[1]
TIMEOUT = 300


def peak_growth(*argv: str) -> int:
    """Run this driver in a process of its own; by how many bytes the job raised its peak."""
    done = subprocess.run(
        [sys.executable, "-m", "support.copy_driver", *argv],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, "PYTHONPATH": str(TESTS)},
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"copy_driver {argv[0]} failed: {done.stderr}")
    figures: dict[str, int] = json.loads(done.stdout)
    return (figures["after_kib"] - figures["before_kib"]) * 1024


def _status_kib(field: str) -> int:
    found = re.search(rf"^{field}:\s+(\d+) kB$", STATUS.read_text(), re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no {field} in {STATUS}: this measurement needs Linux")
    return int(found[1])


def _reset_peak() -> int:
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kib("VmHWM")


def _job(argv: list[str]) -> Callable[[RegistryClient], Awaitable[object]]:
    match argv:
        case ["blob", source, target, digest]:
            return lambda client: copy_blob(
                client, parse_reference(source), parse_reference(target), digest
            )
        case ["layout", index, directory]:
            return lambda client: write_layout(
                client, parse_reference(index), Path(directory), "latest"
            )
    raise SystemExit(__doc__)


async def _measure(job: Callable[[RegistryClient], Awaitable[object]]) -> dict[str, int]:
    async with open_client(Settings(use_docker_config=False)) as client:
        before = _reset_peak()
        await job(client)
        return {
            "before_kib": before,
            "after_kib": _status_kib("VmHWM"),
            "requests": client.stats.requests,
            "retries": client.stats.retries,
        }


def main(argv: list[str]) -> None:
    """Run the job, then print the figures."""
    print(json.dumps(anyio.run(_measure, _job(argv))))  # noqa: T201 - the result


if __name__ == "__main__":
    main(sys.argv[1:])
