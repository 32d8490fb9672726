"""The transport under the registry API: how one request reaches a registry and comes back.

It sends over plain HTTP or verified TLS, counts and tracks what it sends, reads answers
within a size limit, and hands large ones over unread. Around each request it holds what
go-containerregistry keeps beside its transport (``pkg/v1/remote/transport``): the scheme
a host is spoken to over (``schemer``), the answers to its challenges (``bearer``), when to
try again (``retry``), and what went wrong, worded (``failures``, ``responses``).

The line under the API (``client``) is the one go-containerregistry draws between
``pkg/v1/remote`` and ``pkg/v1/remote/transport``, and regclient between ``scheme/reg``
and ``internal/reghttp``: this side knows URLs, token scopes, HTTP and the registry's error
bodies, not which endpoints exist or what their content means. The API grows (referrers,
fallback tags, artifact pushes) without touching how requests are sent, and this module
reads without it.
"""

from collections.abc import AsyncIterable, AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from functools import partial
from types import TracebackType
from typing import Self

import anyio
import httpx

from metrics_api.oci.defaults import CONNECT_TIMEOUT, REQUEST_TIMEOUT, USER_AGENT
from metrics_api.oci.errors import RegistryError
from metrics_api.oci.registry.auth import CredentialStore
from metrics_api.oci.registry.bearer import TokenExchange
from metrics_api.oci.registry.failures import TransportFailures, not_sent
from metrics_api.oci.registry.gate import CredentialGate
from metrics_api.oci.registry.pools import ConnectionPools
from metrics_api.oci.registry.proxies import Proxies
from metrics_api.oci.registry.responses import BodyTooLargeError, describe, shown_url
from metrics_api.oci.registry.retry import (
    RETRY_STATUSES,
    Attempts,
    ClientStats,
    RetryPolicy,
    exhausted,
    worth_retrying,
)
from metrics_api.oci.registry.schemer import Schemer
from metrics_api.oci.registry.trust import trust_context
from metrics_api.oci.spec.reference import Reference

# Importers have taken these from here since before ``retry`` and ``responses`` held them.
__all__ = [
    "RETRY_STATUSES",
    "Attempts",
    "BodyTooLargeError",
    "ClientStats",
    "RegistryTransport",
    "RetryPolicy",
    "describe",
]


async def _read(response: httpx.Response, limit: int | None) -> httpx.Response:
    """The response with its body read, refusing a body over ``limit`` bytes unread.

    The body is read chunk by chunk, so a registry that sends an endless or huge answer
    costs at most ``limit`` bytes of memory. The result is a new response holding the
    decoded body (hence without ``Content-Encoding``): httpx only keeps a body it read all
    at once.
    """
    if limit is None:
        await response.aread()
        return response
    announced = response.headers.get("Content-Length", "")
    if announced.isdigit() and int(announced) > limit:
        raise BodyTooLargeError(response, f"announced a body of {int(announced)} bytes", limit)
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            raise BodyTooLargeError(
                response, f"sent more than {limit} bytes (read no further)", limit
            )
    headers = [
        (key, value)
        for key, value in response.headers.multi_items()
        if key.lower() != "content-encoding"
    ]
    return httpx.Response(
        response.status_code, headers=headers, content=bytes(body), request=response.request
    )


class RegistryTransport:
    """Sends requests to any number of registries; use it as an async context manager.

    A request names the ``Reference`` it acts for: its host is whom the credentials and
    tokens are for, its repository the token's scope. They are sent to that host alone,
    over the scheme spoken to it: an upload Location on another host (a storage backend)
    or over plain HTTP where the registry speaks TLS is followed without them.
    """

    def __init__(  # noqa: PLR0913 - keyword-only settings, each with a default
        self,
        *,
        credentials: CredentialStore | None = None,
        insecure_registries: frozenset[str] = frozenset(),
        retry: RetryPolicy | None = None,
        timeout: float = REQUEST_TIMEOUT,
        http_transport: httpx.AsyncBaseTransport | None = None,
        stats: ClientStats | None = None,
    ) -> None:
        """Configure; nothing connects until the first request.

        ``http_transport``: the connection pools (the session's, or a test's mock); by
        default the system's trust store and no proxy.
        """
        self.retry = retry or RetryPolicy()
        self.stats = ClientStats() if stats is None else stats
        timeouts = httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT))
        self._http = httpx.AsyncClient(
            headers={"User-Agent": USER_AGENT},
            timeout=timeouts,
            transport=http_transport or ConnectionPools(trust_context, Proxies()),
            follow_redirects=True,  # blob GETs may redirect to storage; httpx drops auth then
        )
        self._schemer = Schemer(insecure_registries)
        self._tokens = TokenExchange(credentials or CredentialStore(), self._http, self.stats)
        self._gate = CredentialGate(self._schemer, self._tokens)
        self._failures = TransportFailures(timeouts)
        self._in_flight: list[str] = []

    @property
    def in_flight(self) -> tuple[str, ...]:
        """Requests sent and not yet answered: what a job that ran out of time waited for."""
        return tuple(self._in_flight)

    async def __aenter__(self) -> Self:
        """Open the connection pool."""
        await self._http.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the connection pool."""
        await self._http.__aexit__(exc_type, exc, tb)

    def scheme(self, host: str) -> str:
        """``https``, except ``http`` for loopback and insecure registries (``Schemer``)."""
        return self._schemer.scheme(host)

    def is_registry(self, ref: Reference, url: httpx.URL) -> bool:
        """Whether ``url`` is ``ref``'s registry (scheme, host, port): only it gets credentials."""
        return self._gate.is_registry(ref, url)

    def attempts(self) -> Attempts:
        """The attempts of an operation that restarts itself, as a streamed one must."""
        return Attempts(self.retry, self.stats, self._failures)

    async def failure_cause(self, error: httpx.TransportError, what: str) -> str:
        """Why a request failed in transport, worded; raises for what cannot heal."""
        return await self._failures.cause(error, what)

    @asynccontextmanager
    async def stream(  # noqa: PLR0913 - the request options of ``request``
        self,
        method: str,
        ref: Reference,
        url: httpx.URL,
        *,
        what: str,
        headers: Mapping[str, str] | None = None,
        content: AsyncIterable[bytes] | None = None,
        push: bool = False,
    ) -> AsyncIterator[httpx.Response]:
        """One request whose answer is handed over unread, for content too large to hold.

        A streamed body cannot be sent twice, so there is no retry here: the caller restarts
        its whole operation. A challenge is answered (and a bodyless request sent again); a
        request with a body answered 401 is handed over after the challenge was answered,
        so the caller's next attempt carries the credentials.
        """
        scopes = (f"repository:{ref.repository}:{'pull,push' if push else 'pull'}",)
        for answered in (False, True):
            request = self._http.build_request(
                method,
                url,
                headers=await self._gate.headers(ref, url, scopes, headers, what),
                content=content,
            )
            sending = f"{method} {shown_url(request.url)}"
            self._in_flight.append(sending)
            self.stats.requests += 1
            try:
                response = await self._http.send(request, stream=True)
            except httpx.TransportError:
                raise  # the caller's attempts word it, and may try again
            except httpx.RequestError as error:
                raise not_sent(error, what) from None
            finally:
                self._in_flight.remove(sending)
            try:
                if response.status_code != httpx.codes.UNAUTHORIZED or answered:
                    yield response
                    return
                await self._gate.challenge(ref, scopes, response, what)
                if content is not None:
                    yield response
                    return
            finally:
                await response.aclose()

    async def request(  # noqa: PLR0913 - one place that knows every request option
        self,
        method: str,
        ref: Reference,
        url: httpx.URL,
        *,
        what: str,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        push: bool = False,
        just_pushed: bool = False,
        extra_scopes: tuple[str, ...] = (),
        limit: int | None = None,
    ) -> httpx.Response:
        """Send one logical request, with auth and bounded retries; bodies over ``limit`` fail.

        ``just_pushed``: content the registry reports unknown is retried too, as it may not
        have finished storing it. A body over ``limit`` raises ``BodyTooLargeError``.
        """
        scopes = (f"repository:{ref.repository}:{'pull,push' if push else 'pull'}", *extra_scopes)
        build = partial(
            self._gate.request,
            http=self._http,
            method=method,
            ref=ref,
            scopes=scopes,
            extra=headers,
            content=content,
            what=what,
        )
        answered_challenge = False
        cause = ""
        unknown = False  # the last attempt was answered "unknown" (not a down registry)
        timeouts = 0
        attempts = 0
        while attempts < self.retry.attempts and timeouts < self.retry.timeout_attempts:
            if attempts:
                self.stats.retries += 1
            attempts += 1
            request = await build(url)
            url = request.url  # over the scheme learned so far
            try:
                response = await self._send(request, limit)
                if response.status_code == httpx.codes.UNAUTHORIZED and not answered_challenge:
                    answered_challenge = True
                    await self._gate.challenge(ref, scopes, response, what)
                    # The answer may have come over TLS found meanwhile: credentials follow it.
                    request = await build(url)
                    response = await self._send(request, limit)
            except httpx.TransportError as error:
                cause, unknown = await self.failure_cause(error, what), False
                if isinstance(error, httpx.TimeoutException):
                    timeouts += 1
                    if timeouts >= self.retry.timeout_attempts:
                        continue  # the loop ends: no pause before it
                await self._pause(attempts - 1, None)
                continue
            except httpx.RequestError as error:  # a redirect loop, a body that does not decode
                raise not_sent(error, what) from None
            if response.status_code == httpx.codes.UNAUTHORIZED:
                raise await self._gate.refused(ref, response, push=push, what=what)
            if not worth_retrying(response, just_pushed=just_pushed):
                return response
            cause = f"{method} {request.url.path} answered {describe(response)}"
            unknown = response.status_code not in RETRY_STATUSES
            await self._pause(attempts - 1, response.headers.get("Retry-After"))
        raise exhausted(
            f"{what}: {method} {shown_url(url)}",
            ref,
            attempts,
            cause,
            https=url.scheme == "https",
            unknown=unknown,
            timeouts=timeouts,
        )

    async def preconnect(self, url: httpx.URL, connections: int) -> None:
        """Open ``connections`` more connections to ``url``'s host, kept for requests to come.

        Requests sent at once each need a connection; one opened ahead, while the job waits
        on other answers, spares them a handshake each (TCP, and TLS). Each carries one GET
        of ``url``, the API's root, which every registry answers (200, or 401 with its
        challenge, left unanswered). One that fails is left to the request that needs it.
        """

        async def one() -> None:
            with suppress(httpx.HTTPError, RegistryError):
                request = self._http.build_request("GET", self._schemer.learned(url))
                await self._send(request, limit=4096)  # an answer of a few bytes, or a challenge

        async with anyio.create_task_group() as group:
            for _ in range(connections):
                group.start_soon(one)

    async def _send(self, request: httpx.Request, limit: int | None = None) -> httpx.Response:
        """Send once, counted; a request cut off by the deadline stays listed as in flight."""
        sending = f"{request.method} {shown_url(request.url)}"
        self._in_flight.append(sending)
        self.stats.requests += 1
        try:
            streamed = await self._http.send(request, stream=True)
            try:
                response = await _read(streamed, limit)
            finally:
                await streamed.aclose()
        except (httpx.HTTPError, RegistryError):
            self._in_flight.remove(sending)
            raise
        self._in_flight.remove(sending)
        secure = self._schemer.over_tls(request.url, response)
        if secure is not None:
            again = self._http.build_request(
                request.method, secure, headers=request.headers, content=request.content
            )
            return await self._send(again, limit)
        return response

    async def _pause(self, attempt: int, retry_after: str | None) -> None:
        """Back off before the next attempt; after the last one there is nothing to wait for."""
        if attempt + 1 < self.retry.attempts:
            await anyio.sleep(self.retry.pause(attempt, retry_after))
