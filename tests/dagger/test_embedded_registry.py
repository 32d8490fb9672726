"""The embedded registry's settings, on the registry the `registry:3` image runs.

The engine shows a service's output in the call's log. Distribution v3 refuses a log level
it does not know by exiting at once, which under Dagger fails every release, so the
settings are tried on the real program here.
"""

import os
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest
from support.go_tools import DISTRIBUTION_V3, require_go_tool
from support.registry import free_port

from metrics_api.embedded import QUIET

pytestmark = pytest.mark.dagger

# The configuration the registry:3 image ships (/etc/distribution/config.yml), on a port
# and a folder of the test's own.
STOCK_CONFIG = """\
version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: {storage}
http:
  addr: 127.0.0.1:{port}
  headers:
    X-Content-Type-Options: [nosniff]
"""
READY_WITHIN = 30.0  # a hang guard for a starting registry, not a measure


def _serve_and_log(tmp_path: Path, env: Mapping[str, str]) -> str:
    """Run the registry with ``env``, send what a push sends first, return what it printed."""
    port = free_port()
    tmp_path.mkdir()
    config = tmp_path / "config.yml"
    config.write_text(STOCK_CONFIG.format(storage=tmp_path / "storage", port=port))
    log = tmp_path / "registry.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [require_go_tool(DISTRIBUTION_V3), "serve", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
        )
    try:
        for status in _requests(f"http://127.0.0.1:{port}", process):
            assert status in {200, 404}
    finally:
        process.terminate()
        process.wait(timeout=10)
    return log.read_text()


def _requests(url: str, process: subprocess.Popen[bytes]) -> Iterator[int]:
    """``GET /v2/`` once the registry answers, then the HEAD of a blob it does not have."""
    deadline = time.monotonic() + READY_WITHIN
    with httpx.Client(timeout=2.0) as client:
        while True:
            assert process.poll() is None, "the registry exited: it refused its settings"
            try:
                yield client.get(f"{url}/v2/").status_code
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the registry never answered"
                time.sleep(0.05)
        yield client.head(f"{url}/v2/staging/metrics-api/blobs/sha256:{'0' * 64}").status_code


def test_the_embedded_registry_starts_with_its_settings_and_keeps_quiet(tmp_path: Path) -> None:
    quiet = _serve_and_log(tmp_path / "quiet", QUIET)
    assert '"GET /v2/ HTTP/1.1"' not in quiet, "the access log is on"
    assert "level=info" not in quiet
    assert "level=warning" not in quiet, "the random-secret warning is printed"


def test_without_its_settings_the_registry_logs_every_request(tmp_path: Path) -> None:
    """The control: the checks above see what the stock settings print."""
    loud = _serve_and_log(tmp_path / "loud", {})
    assert '"GET /v2/ HTTP/1.1"' in loud
    assert "level=info" in loud
