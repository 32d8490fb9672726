"""Copy one blob with the core's streaming copy, in a process of its own, and report memory.

    python -m support.copy_driver SOURCE_REPO_REF TARGET_REPO_REF DIGEST

Prints one JSON object: the resident set of this process right before the copy (everything
imported, a client open) and its peak during the copy, in KiB. The peak is reset right
before the copy (Linux: ``5`` written to ``/proc/self/clear_refs`` resets ``VmHWM``), so an
earlier peak (the imports) cannot hide what the copy itself held.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import anyio

from metrics_api.oci import Settings, open_client, parse_reference
from metrics_api.oci.blobcopy import copy_blob

STATUS = Path("/proc/self/status")


def _status_kib(field: str) -> int:
    found = re.search(rf"^{field}:\s+(\d+) kB$", STATUS.read_text(), re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no {field} in {STATUS}: this measurement needs Linux")
    return int(found[1])


def _reset_peak() -> int:
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kib("VmHWM")


async def _copy(source: str, target: str, digest: str) -> dict[str, int]:
    async with open_client(Settings(use_docker_config=False)) as client:
        before = _reset_peak()
        await copy_blob(client, parse_reference(source), parse_reference(target), digest)
        return {
            "before_kib": before,
            "after_kib": _status_kib("VmHWM"),
            "requests": client.stats.requests,
            "retries": client.stats.retries,
        }


def main(argv: list[str]) -> None:
    """Copy, then print the figures."""
    source, target, digest = argv
    print(json.dumps(anyio.run(_copy, source, target, digest)))  # noqa: T201 - the result


if __name__ == "__main__":
    main(sys.argv[1:])
