"""Connections the command line opens while its modules load, for its first requests."""

import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from metrics_api.oci.registry.early import (
    MAX_PER_ENDPOINT,
    PROXIES,
    EarlyConnections,
    endpoint,
)

pytestmark = pytest.mark.unit

DIGEST = "sha256:" + "a" * 64


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXIES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP server socket on loopback that accepts only when a test says so."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(30)
        yield server


def port_of(server: socket.socket) -> int:
    port: int = server.getsockname()[1]
    return port


def test_each_reference_opens_one_connection_to_its_registry(listener: socket.socket) -> None:
    port = port_of(listener)
    host = f"127.0.0.1:{port}"
    early = EarlyConnections.open([f"{host}/a:v1", f"{host}/b@{DIGEST}", "Not A Reference!"])
    accepted = [listener.accept()[0] for _ in range(2)]
    try:
        first, second = early.claim("127.0.0.1", port), early.claim("127.0.0.1", port)
        assert first is not None
        assert second is not None
        assert early.claim("127.0.0.1", port) is None, "one per reference, the bad one none"
        sockets = [first.wait(30), second.wait(30)]
        assert all(s is not None and s.getpeername()[1] == port for s in sockets)
    finally:
        for conn in [*accepted, *(s for s in sockets if s is not None)]:
            conn.close()
        early.close()


@pytest.mark.parametrize(
    ("reference", "insecure", "expected"),
    [
        ("localhost/r:1", (), ("localhost", 80)),
        ("registry.example.com/r:1", (), ("registry.example.com", 443)),
        ("registry.example.com/r:1", ("registry.example.com",), ("registry.example.com", 80)),
        ("Registry.Example.com:5000/r:1", (), ("registry.example.com", 5000)),
        ("[::1]:5000/r:1", (), ("::1", 5000)),
        ("metrics-api:v2", (), ("registry-1.docker.io", 443)),
        ("Not A Reference!", (), None),
    ],
)
def test_the_connection_goes_where_the_transport_would_connect(
    reference: str, insecure: tuple[str, ...], expected: tuple[str, int] | None
) -> None:
    assert endpoint(reference, frozenset(insecure)) == expected


def test_behind_a_proxy_only_loopback_registries_get_connections(
    monkeypatch: pytest.MonkeyPatch, listener: socket.socket
) -> None:
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")
    port = port_of(listener)
    early = EarlyConnections.open(["registry.invalid/r:1", f"127.0.0.1:{port}/r:1"])
    try:
        assert early.claim("registry.invalid", 443) is None
        assert early.claim("127.0.0.1", port) is not None
    finally:
        early.close()


def test_at_most_sixteen_connections_to_one_registry(listener: socket.socket) -> None:
    host = f"127.0.0.1:{port_of(listener)}"
    early = EarlyConnections.open([f"{host}/r:{n}" for n in range(MAX_PER_ENDPOINT + 4)])
    try:
        claimed = 0
        while early.claim("127.0.0.1", port_of(listener)) is not None:
            claimed += 1
        assert claimed == MAX_PER_ENDPOINT == 16
    finally:
        early.close()


def test_a_connection_nobody_claims_is_closed(listener: socket.socket) -> None:
    early = EarlyConnections.open([f"127.0.0.1:{port_of(listener)}/r:1"])
    conn, _ = listener.accept()
    with conn:
        early.close()
        assert conn.recv(1) == b"", "the registry sees the connection closed, nothing sent"


def test_a_connection_the_registry_closed_meanwhile_is_not_handed_over(
    listener: socket.socket,
) -> None:
    port = port_of(listener)
    early = EarlyConnections.open([f"127.0.0.1:{port}/r:1"])
    conn, _ = listener.accept()
    conn.close()  # as a registry's idle timeout would
    pending = early.claim("127.0.0.1", port)
    assert pending is not None
    pending.wait(30)  # connected before the close: now it reads the end of the stream
    assert pending.wait(0) is None


def test_a_failed_connection_is_left_to_the_transport() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = port_of(server)  # closed at once: nothing listens there any more
    early = EarlyConnections.open([f"127.0.0.1:{port}/r:1"])
    pending = early.claim("127.0.0.1", port)
    assert pending is not None
    assert pending.wait(30) is None


def test_a_name_is_looked_up_without_loading_the_idna_codec(listener: socket.socket) -> None:
    # localhost may resolve to ::1 first, where nothing listens: the next address is tried.
    port = port_of(listener)
    script = (
        "import sys\n"
        "from metrics_api.oci.registry.early import EarlyConnections\n"
        f"early = EarlyConnections.open(['localhost:{port}/r:1'])\n"
        f"connected = early.claim('localhost', {port}).wait(30)\n"
        "print(connected is not None, 'encodings.idna' in sys.modules)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    conn, _ = listener.accept()
    with conn:
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert stdout == "True False\n", "connected, and no IDNA codec loaded (~3 ms of CPU)"


def test_the_command_line_opens_them_before_its_modules_load_and_bad_input_sends_nothing(
    listener: socket.socket,
) -> None:
    port = port_of(listener)
    host = f"127.0.0.1:{port}"
    script = (
        "import sys\n"
        "from metrics_api.oci.registry.early import EarlyConnections\n"
        "opening = EarlyConnections.open.__func__\n"
        "def traced(cls, *args, **kwargs):\n"
        "    print('job modules loaded:', 'pydantic' in sys.modules, flush=True)\n"
        "    return opening(cls, *args, **kwargs)\n"
        "EarlyConnections.open = classmethod(traced)\n"
        "from metrics_api.oci.__main__ import start\n"
        "start()\n"
    )
    arguments = [
        "assemble",
        f"{host}/r:v2",
        "--variant",
        f"linux/amd64={host}/r:v2-amd64",
        "--expect",
        "linux/amd64=sha256:tooshort",  # refused by the job, once its modules are loaded
    ]
    process = subprocess.Popen(
        [sys.executable, "-c", script, *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    accepted = [listener.accept()[0] for _ in range(2)]  # the target's and the variant's
    try:
        stdout, stderr = process.communicate(timeout=60)
        received = [conn.recv(1) for conn in accepted]
    finally:
        for conn in accepted:
            conn.close()
    assert stdout == "job modules loaded: False\n"
    assert process.returncode == 2, stderr
    assert "sha256:tooshort" in stderr
    assert received == [b"", b""], "closed without a request: bad input sends nothing"
