"""Connections opened while the command line's modules load, for its first requests.

The command line spends its first ~0.2 s of CPU loading modules before it can send a
request, and each connection then costs a round trip (the TCP handshake) before its first
request goes out. Opened from the parsed command line instead, before those modules load,
the handshakes happen meanwhile: the first requests take connections that are already
up. Only TCP is done here; TLS, if the registry speaks it, is set up by the transport on
the connection it takes, as on any other. Over plain HTTP, once the input passed its
checks, a connection may carry one of the job's first reads (``early_reads``) before the
transport takes it.

This module loads nothing but the standard library's sockets and threads, so that it
can run first. A connection that fails here is left to the transport, which connects
again and reports what it finds; one nobody takes is closed with the transport. A
registry reached through a proxy gets none: only loopback ones when a proxy is set.
"""

import os
import select
import socket
import threading
from collections.abc import Iterable
from typing import Final
from urllib.parse import urlsplit

from metrics_api.oci.defaults import CONNECT_TIMEOUT, REQUEST_TIMEOUT
from metrics_api.oci.errors import InvalidInputError
from metrics_api.oci.registry.early_reads import EarlyRead
from metrics_api.oci.spec.reference import (
    Reference,
    is_loopback,
    parse_reference,
    plain_http_first,
)

MAX_PER_ENDPOINT: Final = 16  # as many as the first requests go out at once, at most
PROXIES: Final = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY")


class _Pending:
    """One connection being opened in a thread of its own, maybe carrying one early read."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self._done = threading.Event()
        self._socket: socket.socket | None = None
        self._taken = False
        self._lock = threading.Lock()
        self.read: EarlyRead | None = None
        threading.Thread(target=self._connect, args=(host, port, timeout), daemon=True).start()

    def _connect(self, host: str, port: int, timeout: float) -> None:
        connected = _open_tcp(host, port, timeout)
        with self._lock:
            late = self._taken  # closed, or given up on: nobody will take it
            if not late:
                self._socket = connected
        if late and connected is not None:
            connected.close()
        self._done.set()

    def send(self, read: EarlyRead, timeout: float) -> None:
        """Send ``read`` once connected, in a thread of its own; claiming waits for its answer."""
        self.read = read
        threading.Thread(target=self._exchange, args=(read, timeout), daemon=True).start()

    def _exchange(self, read: EarlyRead, timeout: float) -> None:
        self._done.wait()
        with self._lock:
            connected, self._socket = self._socket, None
        if connected is None:
            read.give_up()
            return
        connected.settimeout(timeout)
        reusable = read.exchange(connected)
        with self._lock:
            late = self._taken
            if reusable and not late:
                self._socket = connected
        if late or not reusable:
            connected.close()

    def done(self) -> bool:
        """Whether the connection is up or failed, and its read (if any) answered."""
        return self._done.is_set() and (self.read is None or self.read.finished.is_set())

    def wait(self, timeout: float | None) -> socket.socket | None:
        """The connected socket, waiting up to ``timeout``; None if it failed or is late.

        Also None when the other end closed it meanwhile: nothing is awaited on it, so
        there is nothing to read. The socket is the caller's from then on, blocking again.
        """
        self._done.wait(timeout)
        if self.read is not None:
            self.read.finished.wait(timeout)
        with self._lock:
            self._taken = True
            connected, self._socket = self._socket, None
        if connected is not None and select.select([connected], [], [], 0)[0]:
            connected.close()
            return None
        if connected is not None:
            connected.settimeout(None)
        return connected

    def close(self) -> None:
        """Close the socket unless someone took it (it may still be connecting)."""
        with self._lock:
            self._taken = True
            connected, self._socket = self._socket, None
        if connected is not None:
            connected.close()


def _open_tcp(host: str, port: int, timeout: float) -> socket.socket | None:
    """A socket connected to the first address of ``host`` that answers; None if none does.

    The transport connects again when this fails, and says what went wrong. The name is
    looked up as bytes: as text, the lookup would first load the IDNA codec (~3 ms of CPU)
    for a name that is ASCII already, as a reference's registry is.
    """
    try:
        found = socket.getaddrinfo(host.encode("ascii"), port, type=socket.SOCK_STREAM)
    except OSError:
        return None
    for family, kind, protocol, _, address in found:
        attempt = socket.socket(family, kind, protocol)
        try:
            attempt.settimeout(timeout)
            attempt.connect(address)
        except OSError:
            attempt.close()
            continue
        return attempt
    return None


class EarlyConnections:
    """TCP connections to the registries a command names, opened before its requests."""

    def __init__(
        self,
        insecure_registries: frozenset[str] = frozenset(),
        request_timeout: float = REQUEST_TIMEOUT,
        *,
        proxied: bool = False,
    ) -> None:
        """None yet: ``open`` opens them. ``proxied``: a proxy variable is set."""
        self._pending: dict[tuple[str, int], list[_Pending]] = {}
        self._insecure = insecure_registries
        self._request_timeout = request_timeout
        self._proxied = proxied
        self._reads: dict[tuple[str, str], EarlyRead] = {}

    @classmethod
    def open(
        cls,
        references: Iterable[str],
        insecure_registries: Iterable[str] = (),
        request_timeout: float = REQUEST_TIMEOUT,
    ) -> "EarlyConnections":
        """One connection per reference to its registry (``MAX_PER_ENDPOINT`` at most each).

        A reference that does not parse opens nothing: the job refuses it before any
        request. Each connect has the time the transport gives its own.
        """
        timeout = min(request_timeout, CONNECT_TIMEOUT)
        proxied = any(os.environ.get(name) or os.environ.get(name.lower()) for name in PROXIES)
        connections = cls(frozenset(insecure_registries), request_timeout, proxied=proxied)
        counts: dict[tuple[str, int], int] = {}
        for text in references:
            found = endpoint(text, connections._insecure)
            if found is None or (proxied and not is_loopback(found[0])):
                continue
            counts[found] = min(counts.get(found, 0) + 1, MAX_PER_ENDPOINT)
        for (name, port), count in counts.items():
            connections._pending[name, port] = [_Pending(name, port, timeout) for _ in range(count)]
        return connections

    def send(self, reads: Iterable[tuple[str, Reference]], accept: str, limit: int) -> None:
        """Send each read on a connection of its own, to a registry spoken to over plain HTTP.

        ``reads``: a method and the manifest it asks for, each sent at most once, with
        ``accept`` as its Accept; ``limit``: the most bytes of a body to read. None goes
        through a proxy, nor to a registry spoken to over TLS (whose connections the
        transport sets up itself); those are sent by the transport.
        """
        if self._proxied:
            return
        for method, ref in reads:
            found = _address(ref.host, self._insecure)
            if found is None or not plain_http_first(ref.host, self._insecure):
                continue
            host = ref.host.lower()
            url = f"http://{host}/v2/{ref.repository}/manifests/{ref.manifest_reference}"
            free = [pending for pending in self._pending.get(found, []) if pending.read is None]
            if (method, url) in self._reads or not free:
                continue
            self._reads[method, url] = EarlyRead(method, url, accept, limit)
            free[0].send(self._reads[method, url], self._request_timeout)

    def take(self, method: str, url: str, accept: str | None) -> EarlyRead | None:
        """The read sent early for the same request, once; None if none was."""
        read = self._reads.get((method, url))
        if read is None or read.accept != accept:
            return None
        del self._reads[method, url]
        return read

    def claim(self, host: str, port: int) -> _Pending | None:
        """One connection opened to ``host:port``, or None when none is left."""
        pending = self._pending.get((host.lower(), port))
        return pending.pop(0) if pending else None

    def close(self) -> None:
        """Close every connection nobody claimed."""
        for pending in self._pending.values():
            for connection in pending:
                connection.close()
        self._pending.clear()


def endpoint(reference: str, insecure_registries: frozenset[str]) -> tuple[str, int] | None:
    """The host and port the transport connects to for ``reference``; None if it is bad."""
    try:
        host = parse_reference(reference).host
    except InvalidInputError:
        return None
    return _address(host, insecure_registries)


def _address(host: str, insecure_registries: frozenset[str]) -> tuple[str, int] | None:
    """The host's name and port: 80 unless given over plain HTTP, 443 over HTTPS.

    Plain HTTP for loopback registries and those named insecure, as the transport speaks
    to them; HTTPS for the others.
    """
    try:
        split = urlsplit(f"//{host}")
        port = split.port
    except ValueError:
        return None
    if split.hostname is None:
        return None
    return split.hostname, port or (80 if plain_http_first(host, insecure_registries) else 443)
