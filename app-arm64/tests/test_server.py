"""The HTTP layer over real sockets, and the process lifecycle."""

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from metrics_api_legacy.config import Config
from metrics_api_legacy.routing import Service
from metrics_api_legacy.server import MetricsServer

APP_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture
def server() -> Iterator[MetricsServer]:
    metrics_server = MetricsServer(("127.0.0.1", 0), Service(Config(8080, "2.0.0", "unknown")))
    thread = threading.Thread(target=metrics_server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield metrics_server
    metrics_server.shutdown()
    metrics_server.server_close()
    thread.join(timeout=5)


def address(server: MetricsServer) -> tuple[str, int]:
    host, port = server.server_address[:2]
    return str(host), int(port)


def raw_exchange(server: MetricsServer, request: bytes) -> bytes:
    """Send raw bytes, read until the server closes or 1 s of silence."""
    with socket.create_connection(address(server), timeout=1) as connection:
        connection.sendall(request)
        chunks = []
        try:
            while chunk := connection.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
    return b"".join(chunks)


def test_keep_alive_serves_several_requests_on_one_connection(server: MetricsServer) -> None:
    connection = http.client.HTTPConnection(*address(server), timeout=5)
    connection.request("GET", "/healthz", body=b"ignored body")
    first = connection.getresponse()
    assert (first.status, first.read(), first.version) == (200, b'{"status":"ok"}\n', 11)
    connection.request("POST", "/v1/metrics", body=b'{"name":"up","value":1}')
    second = connection.getresponse()
    assert (second.status, second.read()) == (202, b'{"accepted":1}\n')
    assert second.getheader("Content-Type") == "application/json"
    connection.close()


def test_head_sends_headers_only(server: MetricsServer) -> None:
    response = raw_exchange(
        server, b"HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"\r\nContent-Length: 16" in head
    assert body == b""


def test_oversized_body_is_refused_unread(server: MetricsServer) -> None:
    response = raw_exchange(
        server, b"POST /v1/metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\n{"
    )
    assert response.startswith(b"HTTP/1.1 413 ")
    assert response.endswith(b'{"error":"request body exceeds 1048576 bytes"}\n')


def test_chunked_body_is_refused(server: MetricsServer) -> None:
    response = raw_exchange(
        server,
        b"POST /v1/metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\n{}\r\n0\r\n\r\n",
    )
    assert response.startswith(b"HTTP/1.1 411 ")
    assert b"Connection: close" in response


@pytest.mark.parametrize(
    "request_line",
    [b"GET /%zz HTTP/1.1", b"GET healthz HTTP/1.1", b"GET /a\x01b HTTP/1.1"],
)
def test_targets_go_cannot_parse_get_a_plain_400(
    server: MetricsServer, request_line: bytes
) -> None:
    response = raw_exchange(server, request_line + b"\r\nHost: x\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 400 ")
    assert response.endswith(b"\r\n\r\n400 Bad Request")


def test_raw_target_is_routed_not_the_rewritten_one(server: MetricsServer) -> None:
    # http.server turns "//healthz" into "/healthz"; Go answers 404 for it.
    response = raw_exchange(
        server, b"GET //healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert response.startswith(b"HTTP/1.1 404 ")
    absolute = raw_exchange(
        server, b"GET http://x/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert absolute.startswith(b"HTTP/1.1 200 ")


def test_any_method_gets_json(server: MetricsServer) -> None:
    response = raw_exchange(
        server, b"PURGE /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert response.startswith(b"HTTP/1.1 405 ")
    assert b"\r\nAllow: GET, HEAD\r\n" in response
    assert response.endswith(b'{"error":"method not allowed"}\n')


def test_requests_are_logged_and_counted(
    server: MetricsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    raw_exchange(server, b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert server.service.requests.snapshot() == [("unmatched", 404, 1)]
    assert 'method="GET" path="/nope" status=404 duration_ms=' in capsys.readouterr().out


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_process_exits_zero_on_sigterm() -> None:
    port = free_port()
    env = {**os.environ, "PORT": str(port), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "metrics_api_legacy"],
        cwd=APP_DIR,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                connection.request("GET", "/healthz")
                assert connection.getresponse().status == 200
                connection.close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=10)
    finally:
        process.kill()
    assert process.returncode == 0
    assert f"listening on 0.0.0.0:{port}" in out
    assert 'method="GET" path="/healthz" status=200' in out
    assert out.endswith("metrics-api stopped\n")
