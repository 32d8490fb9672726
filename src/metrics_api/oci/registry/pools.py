"""The connection pools under the transport: plain HTTP, TLS, each proxy, early connections.

httpx's default transport, except that the HTTPS pool is made on the first HTTPS request
(making it loads the trust store, CPU that a job speaking only plain HTTP to loopback or
``insecure_registries`` never needs), a registry behind a proxy gets a pool of its own
through that proxy, and a direct connection first takes one the command line opened while
its modules loaded (``early``), as a request sent early on one takes its answer
(``early_reads``). A ``watch`` follows each request's phase (``idle``).
"""

import ssl
from collections.abc import Callable, Iterable

import anyio.abc
import anyio.to_thread
import httpcore
import httpx

# httpcore's own stream over anyio: what its anyio backend returns for a new connection.
from httpcore._backends.anyio import AnyIOStream

from metrics_api.oci.registry.early import EarlyConnections
from metrics_api.oci.registry.failures import root_cause
from metrics_api.oci.registry.idle import IdleWatch
from metrics_api.oci.registry.proxies import Proxies


class _EarlyBackend(httpcore.AnyIOBackend):
    """httpcore's anyio backend, taking a connection opened early before connecting anew."""

    def __init__(self, early: EarlyConnections) -> None:
        self._early = early

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's signature
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """An early connection to ``host:port`` if one is up (or comes up in ``timeout``)."""
        pending = self._early.claim(host, port) if local_address is None else None
        if pending is not None:
            if pending.done():
                connected = pending.wait(0)
            else:
                connected = await anyio.to_thread.run_sync(
                    pending.wait, timeout, abandon_on_cancel=True
                )
            if connected is not None:
                for option in socket_options or ():
                    connected.setsockopt(*option)
                return AnyIOStream(await anyio.abc.SocketStream.from_socket(connected))
        return await super().connect_tcp(host, port, timeout, local_address, socket_options)


def _direct(verify: ssl.SSLContext, early: EarlyConnections | None) -> httpx.AsyncHTTPTransport:
    """The default transport of httpx; its pool takes early connections first, if any."""
    transport = httpx.AsyncHTTPTransport(verify=verify)
    if early is not None:
        # httpx does not pass a network backend through; its pool (httpcore's) takes one.
        pool = transport._pool  # noqa: SLF001
        if not isinstance(pool, httpcore.AsyncConnectionPool):
            raise TypeError(f"expected httpcore's connection pool, found {type(pool).__name__}")
        pool._network_backend = _EarlyBackend(early)  # noqa: SLF001
    return transport


class ConnectionPools(httpx.AsyncBaseTransport):
    """Sends each request through the pool for its scheme and proxy."""

    def __init__(
        self,
        tls: Callable[[], ssl.SSLContext],
        proxies: Proxies,
        early: EarlyConnections | None = None,
        watch: IdleWatch | None = None,
    ) -> None:
        """``tls`` makes the HTTPS context, when first needed; ``early``: connections to take."""
        self._watch = watch or IdleWatch()
        # Plain HTTP never uses this TLS context; it trusts no certificate at all.
        self._no_trust = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self._early = early
        self._plain = _direct(self._no_trust, early)
        self._make_tls = tls
        self._tls_context: ssl.SSLContext | None = None
        self._tls: httpx.AsyncHTTPTransport | None = None
        self._proxies = proxies
        self._proxied: dict[tuple[str, str], httpx.AsyncHTTPTransport] = {}

    def _trust(self) -> ssl.SSLContext:
        if self._tls_context is None:
            self._tls_context = self._make_tls()
        return self._tls_context

    def _pool(self, url: httpx.URL, proxy: str | None) -> httpx.AsyncHTTPTransport:
        if proxy is not None:
            key = (proxy, url.scheme)
            if key not in self._proxied:
                verify = self._trust() if url.scheme == "https" else self._no_trust
                self._proxied[key] = httpx.AsyncHTTPTransport(verify=verify, proxy=proxy)
            return self._proxied[key]
        if url.scheme != "https":
            return self._plain
        if self._tls is None:
            self._tls = _direct(self._trust(), self._early)
        return self._tls

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send over plain HTTP, or over TLS verified against the CA bundle; maybe proxied.

        A request sent early, on a connection the command line opened, is not sent again:
        its answer is the response.
        """
        answered = await self._answered_early(request)
        if answered is not None:
            return answered
        proxy = self._proxies.for_url(request.url)
        try:
            async with self._watch.sending(request):
                return await self._pool(request.url, proxy).handle_async_request(request)
        except httpx.ConnectError as error:
            if proxy is None or isinstance(root_cause(error), ssl.SSLError):
                raise  # a TLS failure through the tunnel is the registry's, not the proxy's
            where = httpx.URL(proxy)  # its user and password are not shown
            raise httpx.ProxyError(
                f"could not connect to the proxy {where.host}:{where.port or 80} "
                f"({type(error).__name__})",
                request=request,
            ) from error

    async def _answered_early(self, request: httpx.Request) -> httpx.Response | None:
        """The answer to the same request sent early, once it came back; None if none went.

        A read sent early that failed fails as this request would have (a timeout, a cut
        connection, a broken answer), for the transport to word and retry. Only a request
        without credentials can have been sent early: one with them is sent as it is.
        """
        if self._early is None or "Authorization" in request.headers:
            return None
        read = self._early.take(request.method, str(request.url), request.headers.get("Accept"))
        if read is None:
            return None
        if not read.finished.is_set():
            await anyio.to_thread.run_sync(read.finished.wait, abandon_on_cancel=True)
        if read.answer is not None:
            version, status, headers, body = read.answer
            return httpx.Response(
                status,
                headers=headers,
                stream=httpx.ByteStream(body),
                request=request,
                extensions={"http_version": version.encode("ascii")},
            )
        if not read.sent:
            return None
        if isinstance(read.failure, TimeoutError):
            raise httpx.ReadTimeout("no answer in time (sent early)", request=request)
        if isinstance(read.failure, OSError):
            raise httpx.ReadError(f"{type(read.failure).__name__} (sent early)", request=request)
        raise httpx.RemoteProtocolError(str(read.failure or "no answer read"), request=request)

    async def aclose(self) -> None:
        """Close every connection pool, and every early connection nobody took."""
        if self._early is not None:
            self._early.close()
        for pool in [self._plain, self._tls, *self._proxied.values()]:
            if pool is not None:
                await pool.aclose()
