"""Process behaviour: listening address, request logs, SIGTERM and graceful shutdown.

These need processes of their own, so they run only when the suite starts
the services itself (not against METRICS_API_CONTRACT_TARGETS).
"""

from __future__ import annotations

import re
import signal
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import httpx
import pytest

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable

pytestmark = pytest.mark.contract

IMPLEMENTATIONS = ["go", "python"]
LOG_LINE = re.compile(
    r'^\S+Z method="(?P<method>[A-Z]+)" path="(?P<path>[^"]*)" '
    r"status=(?P<status>\d{3}) duration_ms=\d+\.\d{3}$",
    re.MULTILINE,
)


class RunningService(Protocol):
    """What these tests use of a process started by the `launcher` fixture."""

    url: str
    port: int
    process: subprocess.Popen[bytes]

    def output(self) -> str: ...

    def stop(self) -> int: ...


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def listening_addresses(port: int) -> set[str]:
    """Local IPv4 addresses in LISTEN state on port, from /proc/net/tcp."""
    addresses = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, port_hex = local.split(":")
        if int(port_hex, 16) == port and state == "0A":
            addresses.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return addresses


def accepted(connection: socket.socket, port: int) -> bool:
    """Whether the service has accepted this client connection (not just the handshake).

    The kernel completes a handshake before the service's ``accept()``; until then the
    server side's entry in /proc/net/tcp{,6} has no socket inode.
    """
    client_port = connection.getsockname()[1]
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if (local_port, remote_port) == (port, client_port) and fields[9] != "0":
                return True
    return False


def read_response(connection: socket.socket) -> bytes:
    """Read one response with a Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += connection.recv(65536) or b"\r\n\r\n"
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    while length is not None and len(body) < int(length.group(1)):
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_listens_on_all_interfaces(
    launcher: Callable[[str], RunningService], implementation: str
) -> None:
    service = launcher(implementation)
    assert listening_addresses(service.port) == {"0.0.0.0"}  # noqa: S104 - what we check


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_logs_one_flushed_line_per_request_and_exits_zero_on_sigterm(
    launcher: Callable[[str], RunningService], implementation: str
) -> None:
    service = launcher(implementation)
    httpx.post(f"{service.url}/v1/metrics", content=b"[]")
    httpx.get(f"{service.url}/nowhere?x=1")

    def logged() -> list[tuple[str, str, str]]:
        return [(m["method"], m["path"], m["status"]) for m in LOG_LINE.finditer(service.output())]

    # Flushed while the process still runs: the lines show up before it stops.
    assert wait_for(lambda: len(logged()) >= 3)
    assert logged() == [
        ("GET", "/healthz", "200"),
        ("POST", "/v1/metrics", "400"),
        ("GET", "/nowhere", "404"),
    ]
    assert service.stop() == 0


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_sigterm_lets_an_in_flight_request_finish(
    launcher: Callable[[str], RunningService], implementation: str
) -> None:
    service = launcher(implementation)
    body = b'{"name":"drained","value":1}'
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as connection:
        connection.sendall(
            b"POST /v1/metrics HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[:10]
        )
        assert wait_for(lambda: accepted(connection, service.port), timeout=60)
        time.sleep(0.3)  # the request is being read when SIGTERM arrives
        service.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        connection.sendall(body[10:])
        response = read_response(connection)
    assert response.startswith(b"HTTP/1.1 202 "), service.output()
    assert response.endswith(b'{"accepted":1}\n')
    assert service.stop() == 0  # already stopping; a second SIGTERM changes nothing
