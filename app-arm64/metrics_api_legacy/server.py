"""HTTP plumbing: a threading http.server, request reading, signals and shutdown."""

from __future__ import annotations

import functools
import os
import re
import signal
import socketserver
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

from metrics_api_legacy.config import load_config
from metrics_api_legacy.errors import ClientError, bad_request
from metrics_api_legacy.ingest import MAX_BODY_BYTES, MSG_CHUNKED, MSG_UNREADABLE, too_large
from metrics_api_legacy.instrumentation import RequestLog
from metrics_api_legacy.routing import Request, Response, Service, error_response

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType

SHUTDOWN_TIMEOUT_SECONDS = 10.0

# A request target Go's server refuses before routing: control bytes, a bad
# %-escape in the path, or neither origin-form nor absolute-form.
_CONTROL_BYTES = re.compile(rb"[\x00-\x1f\x7f]")
_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_ABSOLUTE_FORM = re.compile(rb"[A-Za-z][A-Za-z0-9+.-]*://[^/?]*")


class InFlight:
    """Counts requests being handled, so shutdown can wait for them."""

    def __init__(self) -> None:
        """Start idle."""
        self._count = 0
        self._idle = threading.Condition()

    def __enter__(self) -> None:
        """Count a request in."""
        with self._idle:
            self._count += 1

    def __exit__(self, *_exc: object) -> None:
        """Count a request out."""
        with self._idle:
            self._count -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is being handled; False if the timeout came first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._count == 0, timeout)


class MetricsServer(ThreadingHTTPServer):
    """One thread per connection; idle keep-alive connections never delay shutdown."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], service: Service) -> None:
        """Bind and listen at once."""
        self.service = service
        self.in_flight = InFlight()
        self.request_log = RequestLog()
        super().__init__(address, RequestHandler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse DNS lookup, which can stall start-up."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)


class RequestHandler(BaseHTTPRequestHandler):
    """Turns HTTP/1.1 requests into Service calls; every method reaches _dispatch."""

    protocol_version = "HTTP/1.1"
    server_version = "metrics-api"
    sys_version = ""
    timeout = 60
    # Buffer each response (handle_one_request flushes it) so headers and body
    # leave in one write, and send it at once: with Nagle's algorithm a second
    # small write would wait for the client's delayed ACK (about 40 ms).
    wbufsize = -1
    disable_nagle_algorithm = True
    server: MetricsServer
    _body_read = False

    def __getattr__(self, name: str) -> Callable[[], None]:
        """Serve any method (do_GET, do_DELETE, do_FOO...) so unknown ones get a JSON 405."""
        if name.startswith("do_"):
            return functools.partial(self._dispatch, name[3:])
        raise AttributeError(name)

    def version_string(self) -> str:
        """Server header without the Python version."""
        return self.server_version

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silence the stock access log; RequestLog writes our own line."""

    def _dispatch(self, method: str) -> None:
        start = time.perf_counter()
        target = self._raw_target()
        if target is None or not self._headers_valid():
            self._refuse_malformed()
            return
        path, _, query = target.partition(b"?")
        self._body_read = False
        with self.server.in_flight:
            request = Request(method=method, path=path, query=query, read_body=self._read_body)
            try:
                route, response = self.server.service.handle(request)
            except Exception:  # noqa: BLE001 - a bug answers 500, never kills the connection thread
                self.log_error("unexpected error: %r", sys.exc_info()[1])
                route = "unmatched"
                response = error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")
            # Counted before the response leaves, so a client that reads /metrics
            # right after this response sees it counted (as in Go).
            self.server.service.requests.record(route, response.status)
            self._finish_body()
            self._send(response, head_only=method == "HEAD")
            self.wfile.flush()  # sent before shutdown can see this request as finished
        duration = time.perf_counter() - start
        self.server.request_log.log(method, path.decode("latin-1"), response.status, duration)

    def _raw_target(self) -> bytes | None:
        """The request target as sent (http.server rewrites a leading "//"), or None if refused."""
        words = self.requestline.split()
        if len(words) < 2:  # noqa: PLR2004 - method and target
            return None
        target = words[1].encode("latin-1")
        absolute = _ABSOLUTE_FORM.match(target)
        if absolute is not None:
            target = target[absolute.end() :]
        elif not target.startswith(b"/"):
            return None
        path = target.partition(b"?")[0]
        if _CONTROL_BYTES.search(target) or _BAD_ESCAPE.search(path):
            return None
        return target

    def _headers_valid(self) -> bool:
        """Content-Length must be digits, and repeated values must agree (as Go requires)."""
        values = set(self.headers.get_all("Content-Length") or [])
        return len(values) <= 1 and all(v.strip().isascii() and v.strip().isdigit() for v in values)

    def _refuse_malformed(self) -> None:
        """Answer as Go's server does for a request it cannot parse: plain text, then close."""
        self.close_connection = True
        body = b"400 Bad Request"
        self.send_response(HTTPStatus.BAD_REQUEST)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _content_length(self) -> int:
        return int(self.headers.get("Content-Length", "0").strip())

    def _read_body(self) -> bytes:
        """Read the whole body; chunked (411) and oversized (413) bodies are refused unread."""
        if "Transfer-Encoding" in self.headers:
            self.close_connection = True
            raise ClientError(HTTPStatus.LENGTH_REQUIRED, MSG_CHUNKED)
        length = self._content_length()
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            raise too_large()
        body = self.rfile.read(length)
        self._body_read = True
        if len(body) != length:
            self.close_connection = True
            raise bad_request(MSG_UNREADABLE)
        return body

    def _finish_body(self) -> None:
        """Skip a body nobody read, so the next request on the connection parses."""
        if self._body_read:
            return
        if "Transfer-Encoding" in self.headers:
            self.close_connection = True
            return
        length = self._content_length()
        if length > MAX_BODY_BYTES:
            self.close_connection = True
        elif length:
            self.rfile.read(length)

    def _send(self, response: Response, *, head_only: bool) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        if response.allow is not None:
            self.send_header("Allow", response.allow)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not head_only:
            self.wfile.write(response.body)


def serve(server: MetricsServer) -> None:
    """Serve until SIGTERM or SIGINT, then let in-flight requests finish."""

    def stop(_signum: int, _frame: FrameType | None) -> None:
        # Later signals are ignored while draining, as in Go; a Python handler
        # would be reset to the default (death by signal) during interpreter exit.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        # shutdown() waits for serve_forever(), which runs in this (main) thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    if not server.in_flight.wait_idle(SHUTDOWN_TIMEOUT_SECONDS):
        sys.stderr.write("metrics-api: shutdown timed out with requests in flight\n")


def main() -> int:
    """Run the service with the configuration from the environment."""
    try:
        config = load_config(os.environ)
    except ValueError as error:
        sys.stderr.write(f"metrics-api: {error}\n")
        return 1
    server = MetricsServer(("0.0.0.0", config.port), Service(config))  # noqa: S104 - a service
    sys.stdout.write(f"metrics-api {config.version} (python) listening on 0.0.0.0:{config.port}\n")
    sys.stdout.flush()
    serve(server)
    sys.stdout.write("metrics-api stopped\n")
    sys.stdout.flush()
    return 0
