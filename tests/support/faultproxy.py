"""A fault-injecting reverse proxy in front of a real registry.

Tests and the benchmark point the tool under test at ``proxy.host`` instead of the
registry, switch the scenario at runtime (``proxy.scenario = Scenario(...)``) and read
``proxy.log`` to count requests. Faults are deterministic (first N, every Nth), so a test
that expects retries always gets them, and nothing here ever logs a header value: the
log holds method, path, status and the fault applied, never credentials.

Latency model: ``Scenario.latency`` is one round trip, spent half before the request is
forwarded and half before the answer is sent; a new client connection pays one more
round trip before its first request (the TCP handshake a real network would cost).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import re
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal

from .background import BackgroundServer

UPSTREAM_TIMEOUT = 30.0
INDEX_TYPES = frozenset(
    {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
)
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "host",
    }
)
_BY_DIGEST = re.compile(r"/manifests/sha(256|512):[0-9a-f]+$")


@dataclass(frozen=True)
class Match:
    """Which requests a fault applies to, and which of those it hits.

    ``path`` is a regular expression searched in the path (query excluded); ``methods``
    empty means any. Of the matching requests, every ``every``-th is hit (1: all), and
    only the first ``first`` hits happen (0: no limit). ``after_put``: a GET/HEAD matches
    only once a PUT of the same path was answered 201 ("right after it was pushed").
    """

    methods: frozenset[str] = frozenset()
    path: str = ""
    every: int = 1
    first: int = 0
    after_put: bool = False


@dataclass(frozen=True)
class Status:
    """Answer with ``code`` (503, 429, ...) and ``Retry-After`` instead of forwarding."""

    code: int = 503
    retry_after: str | None = "0"
    match: Match = Match()


@dataclass(frozen=True)
class Drop:
    """Forward, then send the headers and half of the body, and close the connection."""

    match: Match = Match()


@dataclass(frozen=True)
class NotYet:
    """404 ``MANIFEST_BLOB_UNKNOWN``, as registries answer for content still being stored."""

    match: Match = Match(methods=frozenset({"GET", "HEAD"}), path="/manifests/", after_put=True)


@dataclass(frozen=True)
class Tamper:
    """Alter the manifest bytes of a GET answer: flip a digest character, or add whitespace.

    ``digest_header``: ``keep`` sends the registry's Docker-Content-Digest (now wrong),
    ``recompute`` sends the digest of the altered bytes (a consistent forgery).
    """

    how: Literal["flip", "whitespace"] = "whitespace"
    digest_header: Literal["keep", "recompute"] = "keep"
    match: Match = Match(methods=frozenset({"GET"}), path="/manifests/")


@dataclass(frozen=True)
class BodyLimit:
    """Answer 413 to a request whose body is longer than ``limit`` bytes, as a proxy in front
    of a registry does (nginx's ``client_max_body_size``, a CDN's upload limit)."""

    limit: int
    match: Match = Match()


@dataclass(frozen=True)
class Hang:
    """Accept the request and answer nothing for ``seconds`` (or until the proxy stops)."""

    seconds: float = 3600.0
    match: Match = Match()


@dataclass(frozen=True)
class Hold:
    """Hold a request until ``release`` is set: before forwarding it, or after (its answer).

    ``reached`` is set when a request is held, so a test can order two writers exactly.
    """

    release: threading.Event
    reached: threading.Event = field(default_factory=threading.Event)
    after_forward: bool = False
    match: Match = Match()


@dataclass(frozen=True)
class Page:
    """Answer 200 with an HTML page instead of forwarding, as a login or captive portal does."""

    content_type: str = "text/html; charset=utf-8"
    body: bytes = b"<!doctype html><title>Sign in</title><form action=/login></form>\n"
    match: Match = Match()


@dataclass(frozen=True)
class Flood:
    """Answer a manifest GET with ``size`` bytes, as a hostile or broken registry might.

    ``announce``: the real manifest padded to ``size`` bytes (still JSON), sent with its
    Content-Length and a Docker-Content-Digest that matches (a consistent forgery).
    Otherwise ``size`` bytes are streamed with no length, until done or the client hangs
    up; the log's ``sent`` says how many went out.
    """

    size: int
    announce: bool = True
    match: Match = Match(methods=frozenset({"GET"}), path="/manifests/")


@dataclass(frozen=True)
class DieAfterIndexPut:
    """Once an index PUT by digest was stored, fail every later request (the registry died)."""

    mode: Literal["reset", "503"] = "reset"


Fault = Status | Drop | NotYet | Tamper | Hang | Hold | Page | Flood | BodyLimit

_FLOOD_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Scenario:
    """Faults checked in order (the first that hits wins), plus added latency."""

    faults: tuple[Fault, ...] = ()
    latency: float = 0.0  # seconds per round trip
    die_after_index_put: DieAfterIndexPut | None = None


@dataclass(frozen=True)
class Entry:
    """One request as the proxy saw it; ``status`` is None when no answer was sent."""

    method: str
    path: str
    status: int | None
    fault: str  # "" when forwarded untouched
    started: float = 0.0  # time.monotonic() when the request arrived
    ended: float = 0.0  # ... and when its answer was ready to send (or the fault complete)
    sent: int = 0  # body bytes written, for a Flood


@dataclass
class _State:
    """Counters of the current scenario; replaced whenever the scenario changes."""

    scenario: Scenario
    matched: list[int] = field(default_factory=list)
    hits: list[int] = field(default_factory=list)
    pushed: set[str] = field(default_factory=set)
    dead: bool = False


def _error_body(code: str, message: str) -> bytes:
    return ('{"errors":[{"code":"%s","message":"%s","detail":null}]}' % (code, message)).encode()  # noqa: UP031


def padded_manifest(body: bytes, size: int) -> bytes:
    """``body`` (a JSON object) with one more field, padded to exactly ``size`` bytes."""
    head = body.rstrip()[:-1] + b',"padding":"'
    return head + b"x" * (size - len(head) - 2) + b'"}'


def tamper_bytes(body: bytes, how: Literal["flip", "whitespace"]) -> bytes:
    """The altered manifest: still JSON, other digest."""
    if how == "whitespace":
        return body + b"\n"
    position = body.find(b"sha256:")
    if position < 0:
        return body[:-1] + bytes([body[-1] ^ 0x01])
    index = position + len(b"sha256:")
    flipped = b"0" if body[index : index + 1] != b"0" else b"1"
    return body[:index] + flipped + body[index + 1 :]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as registries serve it
    disable_nagle_algorithm = True  # else headers and body meet delayed ACKs: ~40 ms stalls
    server: _Server

    def setup(self) -> None:
        super().setup()
        self._upstream: http.client.HTTPConnection | None = None
        latency = self.server.proxy.scenario.latency
        if latency:  # a new connection costs a round trip (the TCP handshake)
            time.sleep(latency)

    def finish(self) -> None:
        if self._upstream is not None:
            self._upstream.close()
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Silent: the proxy keeps its own log, without headers."""

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes, int]:
        """Send the request upstream; the answer's status, headers, body and length."""
        proxy = self.server.proxy
        # Repeated fields (Go sends one Accept line per media type) are joined, not dropped.
        headers = {
            key: ", ".join(self.headers.get_all(key, []))
            for key in dict.fromkeys(self.headers.keys())
            if key.lower() not in _HOP_BY_HOP
        }
        if body or self.command in {"PUT", "POST", "PATCH"}:
            headers["Content-Length"] = str(len(body))
        for attempt in (1, 2):  # a kept-alive upstream connection may have been closed
            if self._upstream is None:
                self._upstream = http.client.HTTPConnection(
                    proxy.upstream_host, proxy.upstream_port, timeout=UPSTREAM_TIMEOUT
                )
            try:
                self._upstream.request(self.command, self.path, body=body, headers=headers)
                response = self._upstream.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._upstream.close()
                self._upstream = None
                if attempt == 2:
                    raise
                continue
            out = []
            for key, value in response.getheaders():
                if key.lower() in _HOP_BY_HOP:
                    continue
                if key.lower() == "location":
                    value = value.replace(proxy.upstream_url, proxy.url)  # noqa: PLW2901
                out.append((key, value))
            length = int(response.getheader("Content-Length") or len(data))
            return response.status, out, data, length
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(  # noqa: PLR0913 - an answer and its log entry
        self,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
        *,
        fault: str,
        length: int | None = None,
        sent: int = 0,
    ) -> None:
        """Log the answer, then send it: a client that has its answer finds it in the log."""
        self.server.proxy.record(self.command, self.path, status, fault, self._started, sent=sent)
        self.send_response_only(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        try:
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (its job failed elsewhere)

    def _abort(self, *, reset: bool) -> None:
        """Close the connection without (the rest of) an answer; RST when ``reset``."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
            if reset:
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
            else:
                self.connection.shutdown(socket.SHUT_RDWR)

    def _proxy(self) -> None:
        self._started = time.monotonic()
        proxy = self.server.proxy
        path = self.path.split("?", 1)[0]
        body = self._read_body()
        state, fault = proxy.pick(self.command, path)
        latency = state.scenario.latency
        if latency:
            time.sleep(latency / 2)
        if self._injected(state, fault, len(body)):
            return
        if isinstance(fault, Hold) and not fault.after_forward:
            _wait(fault)
        try:
            status, headers, data, length = self._forward(body)
        except OSError:
            self._send(
                502, [], _error_body("UNAVAILABLE", "upstream unreachable"), fault="upstream down"
            )
            return
        proxy.after_forward(self.command, path, status, self.headers.get("Content-Type", ""))
        if isinstance(fault, Hold) and fault.after_forward:
            _wait(fault)
        if latency:
            time.sleep(latency / 2)
        if isinstance(fault, Drop) and len(data) >= 2:
            self._send(status, headers, data[: len(data) // 2], fault="drop", length=len(data))
            self._abort(reset=False)
            return
        if isinstance(fault, Flood) and status == 200 and self.command == "GET":
            self._flood(fault, data, headers)
            return
        label = ""
        if isinstance(fault, Tamper) and status == 200 and data:
            data, headers = _tampered(data, headers, fault)
            label = f"tamper {fault.how}/{fault.digest_header}"
        self._send(
            status, headers, data, fault=label, length=length if self.command == "HEAD" else None
        )

    def _flood(self, fault: Flood, data: bytes, headers: list[tuple[str, str]]) -> None:
        proxy = self.server.proxy
        if fault.announce:
            padded = padded_manifest(data, fault.size)
            forged = "sha256:" + hashlib.sha256(padded).hexdigest()
            headers = [
                (k, forged if k.lower() == "docker-content-digest" else v) for k, v in headers
            ]
            self._send(200, headers, padded, fault="flood", sent=len(padded))
            return
        self.close_connection = True
        self.send_response_only(200)
        for key, value in headers:
            if key.lower() != "docker-content-digest":
                self.send_header(key, value)
        self.send_header("Connection", "close")
        sent = 0
        try:
            self.end_headers()
            while sent < fault.size:
                chunk = b" " * min(_FLOOD_CHUNK, fault.size - sent)
                self.wfile.write(chunk)
                sent += len(chunk)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading: what this fault is about
        proxy.record(self.command, self.path, 200, "flood", self._started, sent=sent)

    def _injected(self, state: _State, fault: Fault | None, body_length: int) -> bool:
        """Answer in place of the registry when the scenario says so; True if it did."""
        proxy = self.server.proxy
        if isinstance(fault, BodyLimit) and body_length > fault.limit:
            page = b"<html><body>413 Request Entity Too Large</body></html>"
            self._send(413, [], page, fault="body limit")
            return True
        dying = state.scenario.die_after_index_put
        if state.dead and dying is not None:
            if dying.mode == "503":
                body = _error_body("UNAVAILABLE", "registry is down (injected)")
                self._send(503, [], body, fault="dead")
            else:
                proxy.record(self.command, self.path, None, "dead", self._started)
                self._abort(reset=True)
            return True
        if isinstance(fault, Page):
            self._send(200, [("Content-Type", fault.content_type)], fault.body, fault="page")
            return True
        if isinstance(fault, Hang):
            proxy.record(self.command, self.path, None, "hang", self._started)
            proxy.stopping.wait(fault.seconds)
            self._abort(reset=False)
            return True
        if isinstance(fault, Status | NotYet):
            if isinstance(fault, Status):
                code, label = fault.code, f"status {fault.code}"
                error = "TOOMANYREQUESTS" if fault.code == 429 else "UNAVAILABLE"
                message = "injected fault"
            else:
                code, label = 404, "not-yet"
                error, message = "MANIFEST_BLOB_UNKNOWN", "blob unknown to registry"
            headers = [("Content-Type", "application/json")]
            if isinstance(fault, Status) and fault.retry_after is not None:
                headers.append(("Retry-After", fault.retry_after))
            if state.scenario.latency:
                time.sleep(state.scenario.latency / 2)
            self._send(code, headers, _error_body(error, message), fault=label)
            return True
        return False

    def do_GET(self) -> None:
        """Forward (or fault) a GET."""
        self._proxy()

    def do_HEAD(self) -> None:
        """Forward (or fault) a HEAD."""
        self._proxy()

    def do_PUT(self) -> None:
        """Forward (or fault) a PUT."""
        self._proxy()

    def do_POST(self) -> None:
        """Forward (or fault) a POST."""
        self._proxy()

    def do_PATCH(self) -> None:
        """Forward (or fault) a PATCH."""
        self._proxy()

    def do_DELETE(self) -> None:
        """Forward (or fault) a DELETE."""
        self._proxy()


def _wait(hold: Hold) -> None:
    hold.reached.set()
    if not hold.release.wait(UPSTREAM_TIMEOUT):
        msg = "a held request was never released"
        raise RuntimeError(msg)


def _tampered(
    data: bytes, headers: list[tuple[str, str]], fault: Tamper
) -> tuple[bytes, list[tuple[str, str]]]:
    altered = tamper_bytes(data, fault.how)
    if fault.digest_header == "keep":
        return altered, headers
    forged = "sha256:" + hashlib.sha256(altered).hexdigest()
    return altered, [(k, forged if k.lower() == "docker-content-digest" else v) for k, v in headers]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    # socketserver's default backlog is 5: a client opening more connections at once (one
    # per platform) had the rest of its SYNs dropped and retried a second later.
    request_queue_size = 128
    proxy: FaultProxy

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        conn, address = super().get_request()
        self.proxy.track(conn, add=True)
        return conn, address

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        self.proxy.track(request, add=False)
        super().shutdown_request(request)

    def handle_error(self, request: object, client_address: object) -> None:
        """A client hanging up (reset, broken pipe) is normal here; anything else is not."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class FaultProxy(BackgroundServer):
    """The proxy: ``start()`` it, point tools at ``host``, ``stop()`` it."""

    def __init__(self, upstream: str) -> None:
        """``upstream`` is the real registry's ``host:port`` (plain HTTP)."""
        name, _, port = upstream.rpartition(":")
        self.upstream_host, self.upstream_port = name, int(port)
        self.upstream_url = f"http://{upstream}"
        self.stopping = threading.Event()
        self._lock = threading.Condition()  # notified whenever the log grows
        self._log: list[Entry] = []
        self._state = _State(Scenario())
        self._connections: set[socket.socket] = set()
        self.accepted = 0  # client connections accepted since the start or ``clear_log``

    # -- lifecycle -------------------------------------------------------------------

    def _make_server(self) -> _Server:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.proxy = self
        return server

    def stop(self) -> None:
        """Stop serving, release hung handlers and close every client connection."""
        self.stopping.set()
        super().stop()

    def _closed(self) -> None:
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``: use it as the registry part of image references."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host}"

    def ref(self, repository: str, tag_or_digest: str) -> str:
        """``127.0.0.1:PORT/repo:tag`` or ``...@sha256:...`` through the proxy."""
        sep = "@" if tag_or_digest.startswith("sha") else ":"
        return f"{self.host}/{repository}{sep}{tag_or_digest}"

    # -- scenario and log --------------------------------------------------------------

    @property
    def scenario(self) -> Scenario:
        """The faults now in force."""
        return self._state.scenario

    @scenario.setter
    def scenario(self, scenario: Scenario) -> None:
        """Switch faults; counters start again from zero."""
        with self._lock:
            self._state = _State(
                scenario, matched=[0] * len(scenario.faults), hits=[0] * len(scenario.faults)
            )

    @property
    def log(self) -> list[Entry]:
        """Every request so far, in arrival order."""
        with self._lock:
            return list(self._log)

    def clear_log(self) -> None:
        """Forget the requests logged and the connections counted so far."""
        with self._lock:
            self._log.clear()
            self.accepted = 0

    def count(self, method: str = "", path: str = "", fault: str | None = None) -> int:
        """How many logged requests have this method, a path matching ``path``, and fault."""
        pattern = re.compile(path)
        return sum(
            1
            for entry in self.log
            if (not method or entry.method == method)
            and pattern.search(entry.path)
            and (fault is None or entry.fault.startswith(fault))
        )

    def record(  # noqa: PLR0913 - the fields of one log entry
        self,
        method: str,
        path: str,
        status: int | None,
        fault: str,
        started: float = 0.0,
        *,
        sent: int = 0,
    ) -> None:
        """Append one entry to the log."""
        with self._lock:
            self._log.append(Entry(method, path, status, fault, started, time.monotonic(), sent))
            self._lock.notify_all()

    def logged(self, fault: str) -> Entry:
        """The first entry with this fault, waiting for it: a streamed answer is logged only
        once the client hangs up, which may be after the client's process has exited."""
        with self._lock:
            found = self._lock.wait_for(
                lambda: [entry for entry in self._log if entry.fault == fault], timeout=60
            )
        if not found:
            raise AssertionError(f"the proxy logged no request with fault {fault!r}")
        return found[0]

    def track(self, conn: socket.socket, *, add: bool) -> None:
        """Remember open client connections, so ``stop()`` can close them."""
        with self._lock:
            if add:
                self._connections.add(conn)
                self.accepted += 1
            else:
                self._connections.discard(conn)

    def pick(self, method: str, path: str) -> tuple[_State, Fault | None]:
        """Count this request against each fault; return the first fault that hits it."""
        with self._lock:
            state = self._state
            for position, fault in enumerate(state.scenario.faults):
                match = fault.match
                if match.methods and method not in match.methods:
                    continue
                if match.path and not re.search(match.path, path):
                    continue
                if match.after_put and path not in state.pushed:
                    continue
                state.matched[position] += 1
                if state.matched[position] % max(match.every, 1):
                    continue
                if match.first and state.hits[position] >= match.first:
                    continue
                state.hits[position] += 1
                return state, fault
            return state, None

    def after_forward(self, method: str, path: str, status: int, content_type: str) -> None:
        """Note pushes: content pushed (for ``after_put``), and an index PUT by digest."""
        if method != "PUT" or status != 201:
            return
        with self._lock:
            self._state.pushed.add(path)
            media_type = content_type.split(";", 1)[0].strip()
            if _BY_DIGEST.search(path) and media_type in INDEX_TYPES:
                self._state.dead = self._state.scenario.die_after_index_put is not None


def start_proxy(upstream: str, scenario: Scenario | None = None) -> FaultProxy:
    """Start a proxy in front of ``upstream`` (``host:port``); the caller stops it."""
    proxy = FaultProxy(upstream)
    if scenario is not None:
        proxy.scenario = scenario
    return proxy.start()


__all__ = [
    "BodyLimit",
    "DieAfterIndexPut",
    "Drop",
    "Entry",
    "FaultProxy",
    "Flood",
    "Hang",
    "Match",
    "NotYet",
    "Page",
    "Scenario",
    "Status",
    "Tamper",
    "padded_manifest",
    "start_proxy",
    "tamper_bytes",
]
