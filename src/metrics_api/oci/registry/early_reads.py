"""One manifest request sent on an early connection, and its answer, read whole.

The job's first requests are reads: its tag's look, each variant's manifest. Sent on a
connection opened early (``registry.early``) as soon as the input passed its checks,
their answers arrive while the job's modules load, and the transport takes each as the
answer to the same request (``pools``) instead of sending it. Only what the transport
itself would have sent is sent: no credentials (its first request to a registry has
none, and a 401 with the challenge is an answer like any other) and its headers.

Each read ends one of three ways, and the transport meets each as it would have met its
own request: an answer (its body as it came, content coding and all, which httpx then
decodes); a failure once sent (a timeout, a connection cut, an answer that breaks
HTTP/1.1), which it counts, words and retries like its own; or nothing sent (no
connection), and it sends the request itself. A request is never sent twice.
The standard library only, as for the connections.
"""

import socket
import threading
from typing import Final, NamedTuple

from metrics_api.oci.defaults import USER_AGENT

MAX_HEAD_BYTES: Final = 64 * 1024  # a registry's status line and headers are far smaller
ACCEPT_ENCODING: Final = "gzip, deflate"  # what httpx asks for, and decodes
_CHUNK: Final = 65536


class EarlyAnswer(NamedTuple):
    """A registry's answer, read whole: what the transport makes its response of."""

    version: str  # HTTP/1.1, or HTTP/1.0 (as a TLS server answers plain HTTP)
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class BrokenAnswerError(Exception):
    """An answer that breaks HTTP/1.1, or cut short: what httpx calls a protocol error."""


class EarlyRead:
    """A request to send on an early connection, and how it ended once ``finished``."""

    def __init__(self, method: str, url: str, accept: str, limit: int) -> None:
        """``url``: absolute, over plain HTTP; ``limit``: the most body bytes to read.

        A body over ``limit`` is read no further: what was read (or none, when its length
        was announced) goes to the transport, which refuses it for its size.
        """
        self.method = method
        self.url = url
        self.accept = accept
        self.limit = limit
        self.sent = False
        self.answer: EarlyAnswer | None = None
        self.failure: OSError | BrokenAnswerError | None = None
        self.finished = threading.Event()

    def exchange(self, connected: socket.socket) -> bool:
        """Send, then read the answer; whether the connection can carry another request."""
        reusable = False
        try:
            connected.sendall(self._request())
            self.sent = True
            self.answer, reusable = _receive(connected, self.method, self.limit)
        except (OSError, BrokenAnswerError) as error:
            self.failure = error
        finally:
            self.finished.set()  # however it ended, the transport waits no longer
        return reusable

    def give_up(self) -> None:
        """Nothing sent: the transport sends the request itself."""
        self.finished.set()

    def _request(self) -> bytes:
        host, _, path = self.url.split("://", 1)[1].partition("/")
        return (
            f"{self.method} /{path} HTTP/1.1\r\n"
            f"Host: {host}\r\n"
            f"Accept: {self.accept}\r\n"
            f"Accept-Encoding: {ACCEPT_ENCODING}\r\n"
            f"User-Agent: {USER_AGENT}\r\n"
            "\r\n"
        ).encode("ascii")


class _Stream:
    """The bytes of one answer as they arrive."""

    def __init__(self, connected: socket.socket) -> None:
        self._socket = connected
        self.buffer = bytearray()
        self.closed = False

    def fill(self) -> None:
        """Read what has arrived; ``closed`` once the other end closed."""
        chunk = self._socket.recv(_CHUNK)
        self.closed = not chunk
        self.buffer += chunk

    def until(self, marker: bytes, most: int, what: str) -> bytes:
        """The bytes before ``marker``, consumed with it; at most ``most`` of them."""
        while (end := self.buffer.find(marker)) < 0:
            if len(self.buffer) > most or self.closed:
                raise BrokenAnswerError(f"expected {what}, found none")
            self.fill()
        found = bytes(self.buffer[:end])
        del self.buffer[: end + len(marker)]
        return found

    def exactly(self, count: int) -> bytes:
        """The next ``count`` bytes."""
        while len(self.buffer) < count:
            if self.closed:
                raise BrokenAnswerError("the connection closed before the answer was whole")
            self.fill()
        found = bytes(self.buffer[:count])
        del self.buffer[:count]
        return found


def _receive(connected: socket.socket, method: str, limit: int) -> tuple[EarlyAnswer, bool]:
    """The answer and whether the connection stays usable; raises for a broken one."""
    stream = _Stream(connected)
    version, status, headers = _head(stream.until(b"\r\n\r\n", MAX_HEAD_BYTES, "a status line"))
    fields = {name.lower(): value for name, value in headers}
    lengths = {value for name, value in headers if name.lower() == "content-length"}
    keep = version == "HTTP/1.1" and "close" not in fields.get("connection", "").lower()
    if method == "HEAD" or status in (204, 304):
        return EarlyAnswer(version, status, headers, b""), keep
    if "chunked" in fields.get("transfer-encoding", "").lower():
        body, whole = _chunked(stream, limit)
        return EarlyAnswer(version, status, headers, body), keep and whole
    if len(lengths) > 1 or (lengths and not _is_number(next(iter(lengths)))):
        raise BrokenAnswerError(f"expected one Content-Length, found {sorted(lengths)}")
    if lengths:
        length = int(next(iter(lengths)))
        if length > limit:  # the transport refuses it by its announced length
            return EarlyAnswer(version, status, headers, b""), False
        return EarlyAnswer(version, status, headers, stream.exactly(length)), keep
    while not stream.closed and len(stream.buffer) <= limit:  # until the connection closes
        stream.fill()
    return EarlyAnswer(version, status, headers, bytes(stream.buffer[: limit + 1])), False


def _chunked(stream: _Stream, limit: int) -> tuple[bytes, bool]:
    """A chunked body, up to just over ``limit``; and whether it was read to its end."""
    body = bytearray()
    while len(body) <= limit:
        size = stream.until(b"\r\n", 1024, "a chunk's size").split(b";")[0].strip()
        try:
            count = int(size, 16)
        except ValueError:
            raise BrokenAnswerError(f"expected a chunk size, found {size[:16]!r}") from None
        if count == 0:
            while stream.until(b"\r\n", MAX_HEAD_BYTES, "the end of the trailer"):
                pass  # trailer fields: none matter here
            return bytes(body), True
        body += stream.exactly(min(count, limit + 1 - len(body)))
        if len(body) > limit:
            break
        stream.exactly(2)  # the CRLF after the chunk
    return bytes(body), False


def _is_number(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also takes ``²``, which ``int`` refuses."""
    return text.isascii() and text.isdigit()


def _head(raw: bytes) -> tuple[str, int, list[tuple[str, str]]]:
    """The version, final status and header fields of an answer's head."""
    status_line, *lines = raw.decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    code = rest[:3]
    if version not in ("HTTP/1.1", "HTTP/1.0") or not _is_number(code):
        raise BrokenAnswerError(f"expected an HTTP/1.1 status line, found {status_line[:40]!r}")
    if int(code) < 200:  # noqa: PLR2004 - an interim answer, unasked for: no GET expects one
        raise BrokenAnswerError(f"expected a final status, found {code}")
    headers: list[tuple[str, str]] = []
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise BrokenAnswerError(f"expected header fields, found {line[:40]!r}")
        headers.append((name, value.strip()))
    return version, int(code), headers
