"""Tiny HTTP servers on loopback that answer every request one way and count what came.

For the core's client and command line where no registry is needed: a server that holds
each GET (a request in flight, for interrupts), one that asks for a password (so a
credential helper is run), and a plain-HTTP one for a client that speaks TLS to it.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Literal

from .background import BackgroundServer

if TYPE_CHECKING:
    import socket

Answer = Literal["hold", "basic challenge", "not found"]
WAIT_TIMEOUT = 60.0  # only a guard: what a test waits for comes within a second


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        """Quiet: the listener's log is its ``requests``."""

    def _answer(self) -> None:
        listener = self.server.listener
        listener.arrived(f"{self.command} {self.path}")
        if listener.answer == "hold" and self.command == "GET":
            listener.released.wait()
            self.close_connection = True
            return
        if listener.answer == "basic challenge":
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="listener"')
        else:
            self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_PUT = do_POST = _answer  # noqa: N815 - http.server's names


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    listener: Listener

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        accepted = super().get_request()
        self.listener.connected()
        return accepted


class Listener(BackgroundServer):
    """``answer``: hold each GET until ``stop`` (HEAD: 404), 401 Basic, or 404 to all.

    ``connections`` counts accepted connections (a TLS handshake that is no HTTP request
    included), ``requests`` the requests that were read.
    """

    def __init__(self, answer: Answer, address: str = "127.0.0.1") -> None:
        """Answer ``answer`` on ``address`` (a loopback address)."""
        self.answer = answer
        self.address = address
        self.released = threading.Event()
        self.connections = 0
        self.requests: list[str] = []
        self._changed = threading.Condition()

    def _make_server(self) -> ThreadingHTTPServer:
        server = _Server((self.address, 0), _Handler)
        server.listener = self
        return server

    def stop(self) -> None:
        """Release the held requests, then stop serving."""
        self.released.set()
        super().stop()

    def connected(self) -> None:
        """Count one accepted connection."""
        with self._changed:
            self.connections += 1
            self._changed.notify_all()

    def arrived(self, request: str) -> None:
        """Log one request that was read."""
        with self._changed:
            self.requests.append(request)
            self._changed.notify_all()

    def wait_for_request(self, method: str) -> str:
        """The first request with ``method``, once it has arrived."""
        with self._changed:
            found = self._changed.wait_for(
                lambda: [r for r in self.requests if r.startswith(f"{method} ")], WAIT_TIMEOUT
            )
        if not found:
            raise AssertionError(f"no {method} request reached the listener: {self.requests}")
        return found[0]
