"""The transport under the registry API: how one request reaches a registry and comes back.

It sends over plain HTTP or verified TLS (a loopback registry that answers only TLS is
spoken to over HTTPS from then on), answers Basic and Bearer challenges (a token fetched
once per scope, shared, and renewed before it expires; an identity token exchanged by the
OAuth2 refresh-token grant), counts and tracks what it sends, and words what went wrong.

It retries what is worth retrying (429 with ``Retry-After``, 5xx, dropped connections,
content a registry briefly reports as unknown right after a push) a bounded number of
times. What cannot heal (a name that does not resolve, plain HTTP where TLS was expected, a
certificate that is not trusted) is not retried, and a request that gets no answer is
tried only twice. Pauses between attempts are jittered, so requests that failed together
do not come back together.

The line under the API (``client``) is the one go-containerregistry draws between
``pkg/v1/remote`` and ``pkg/v1/remote/transport``, and regclient between ``scheme/reg``
and ``internal/reghttp``: this side knows URLs, token scopes, HTTP and the registry's error
bodies, not which endpoints exist or what their content means. The API grows (referrers,
fallback tags, artifact pushes) without touching how requests are sent, and this module
reads without it. As in go-containerregistry, the API builds each URL and the transport
corrects its scheme once a host is found to answer only TLS.
"""

import math
import random
import socket
import ssl
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from types import TracebackType
from typing import Final, Self

import anyio
import httpx

from metrics_api.oci.concurrency import off_the_loop
from metrics_api.oci.errors import AuthenticationError, RegistryError, Remedy
from metrics_api.oci.registry.auth import Challenge, Credentials, CredentialStore, parse_challenge
from metrics_api.oci.registry.certificates import peer_issuer
from metrics_api.oci.registry.trust import trust_context
from metrics_api.oci.spec.reference import Reference, is_loopback

# Answers worth another attempt: the registry is busy or briefly down.
RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
# Codes a registry may answer for content it has not finished storing (anchors.md item 7).
_NOT_YET_CODES: Final = frozenset({"MANIFEST_UNKNOWN", "BLOB_UNKNOWN", "MANIFEST_BLOB_UNKNOWN"})
# How OpenSSL words an answer that is no TLS record at all: a plain-HTTP server answering
# the handshake (``HTTP/1.1 400 ...``). It never heals, unlike a connection cut mid-way.
_NOT_TLS_REASONS: Final = frozenset({"WRONG_VERSION_NUMBER"})

# A token without ``expires_in`` lives 60 s (token.md). One is renewed before a request once
# less than this share of its life is left, so no request of a long job (a large layer's
# upload) is sent with a token about to expire, refused 401 and, if streamed, restarted.
DEFAULT_TOKEN_SECONDS: Final = 60.0
RENEW_SHARE: Final = 0.25
CLIENT_ID: Final = "metrics-api"  # for the token server's audit log (oauth.md: client_id)


def _now() -> float:
    """The clock tokens are timed by (a test moves it)."""
    return time.monotonic()


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts per request and the exponential backoff between them.

    A request that timed out is tried ``timeout_attempts`` times at most: a registry that
    accepts connections and then says nothing rarely recovers within one job, and five
    full timeouts would keep a CI job waiting for minutes.

    ``random`` draws numbers in [0, 1) for the jitter of ``pause``; a test passes its own
    (``random.Random(seed).random``) to know every pause in advance.
    """

    attempts: int = 5
    timeout_attempts: int = 2
    base_delay: float = 0.2
    max_delay: float = 5.0
    max_retry_after: float = 30.0
    random: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def delay(self, attempt: int, retry_after: str | None) -> float:
        """The longest wait before attempt ``attempt + 1``; honours ``Retry-After`` seconds."""
        seconds = self._retry_after(retry_after)
        if seconds is not None:
            return seconds
        return min(self.base_delay * 2.0**attempt, self.max_delay)

    def pause(self, attempt: int, retry_after: str | None) -> float:
        """The wait before attempt ``attempt + 1``: ``delay``, its upper half drawn at random.

        Requests that failed together (a job's concurrent requests to a registry that is
        briefly down) would otherwise all come back at the same moment, and again after
        each backoff. "Equal jitter": never less than half the backoff, never more than it,
        so the bounds of ``delay`` hold. A ``Retry-After`` is the registry's own number and
        is kept as it is.
        """
        seconds = self._retry_after(retry_after)
        if seconds is not None:
            return seconds
        backoff = self.delay(attempt, None)
        return backoff / 2 + backoff / 2 * self.random()

    def _retry_after(self, retry_after: str | None) -> float | None:
        """``Retry-After`` in seconds, capped; None without one or for an HTTP date."""
        if retry_after is None:
            return None
        try:
            seconds = float(retry_after)
        except ValueError:
            return None  # an HTTP date: fall back to our own backoff
        return min(max(seconds, 0.0), self.max_retry_after)


@dataclass
class ClientStats:
    """What the client did, for reports and benchmarks."""

    requests: int = 0
    retries: int = 0


class Attempts:
    """The attempts of an operation that restarts itself from its start (a streamed one).

    As many as one request gets, only ``timeout_attempts`` when nothing answers, paced and
    counted the same way; ``cause`` says why the last one failed.
    """

    def __init__(self, transport: "RegistryTransport") -> None:
        """Attempts paced by ``transport``'s retry policy, counted in its stats."""
        self.transport = transport
        self.cause = ""
        self.made = 0
        self._timeouts = 0

    async def __aiter__(self) -> AsyncIterator[int]:
        """Attempt numbers, with the pause before each new one taken here."""
        retry = self.transport.retry
        for attempt in range(retry.attempts):
            if self._timeouts >= retry.timeout_attempts:
                return
            if attempt:
                self.transport.stats.retries += 1
                await anyio.sleep(retry.pause(attempt - 1, None))
            self.made += 1
            yield attempt

    async def failed(self, error: httpx.TransportError, what: str) -> None:
        """Record a transport failure; raises at once for what cannot heal."""
        self.cause = await self.transport.failure_cause(error, what)
        if isinstance(error, httpx.TimeoutException):
            self._timeouts += 1


@dataclass(frozen=True)
class _Authorization:
    """An Authorization header; for a Bearer token, when to renew it and from where.

    ``renew_at`` and ``expires_at`` are ``_now()`` times.
    """

    header: str
    renew_at: float = math.inf
    expires_at: float = math.inf
    challenge: Challenge | None = None


def _registry_errors(response: httpx.Response) -> list[tuple[str, str]]:
    """The ``errors`` array of a distribution error body as (code, message) pairs."""
    try:
        body = response.json()
    except ValueError:
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return []
    return [
        (str(item.get("code", "")), str(item.get("message", "")))
        for item in errors
        if isinstance(item, dict)
    ]


def describe(response: httpx.Response) -> str:
    """``HTTP 404 (BLOB_UNKNOWN: ...)``: the status and the registry's own error codes."""
    errors = _registry_errors(response)
    detail = "; ".join(f"{code}: {message}" for code, message in errors)
    return f"HTTP {response.status_code}" + (f" ({detail})" if detail else "")


def _root_cause(error: BaseException) -> BaseException:
    """The exception at the bottom of a chain (httpx wraps httpcore, which wraps the OS's)."""
    while (inner := error.__cause__ or error.__context__) is not None:
        error = inner
    return error


def _answers_only_tls(response: httpx.Response) -> bool:
    """A TLS server's answer to plain HTTP.

    Go answers ``HTTP/1.0 400`` with no headers and "Client sent an HTTP request to an
    HTTPS server" (no body for a HEAD), nginx "The plain HTTP request was sent to HTTPS
    port"; a registry's own 400s are HTTP/1.1 with a JSON error body.
    """
    if response.status_code != httpx.codes.BAD_REQUEST:
        return False
    bare = response.http_version == "HTTP/1.0" and "content-type" not in response.headers
    return bare or b"https" in response.content[:512].lower()


class BodyTooLargeError(RegistryError):
    """An answer whose body exceeds the request's ``limit``, refused unread.

    Only the caller knows what it expected (a manifest), so it words the error the user
    sees from ``response`` and ``found``.
    """

    def __init__(self, response: httpx.Response, found: str, limit: int) -> None:
        """``found``: what the body did (announced its size, or sent more than ``limit``)."""
        request = response.request
        super().__init__(f"{request.method} {request.url} {found}; at most {limit} bytes read")
        self.response = response
        self.found = found
        self.limit = limit


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


class _DefaultTransport(httpx.AsyncBaseTransport):
    """httpx's default transport, except that the HTTPS one is made on the first HTTPS request.

    Making it loads the trust store, CPU a job that only talks to plain-HTTP registries
    (loopback, ``insecure_registries``) never needs.
    """

    def __init__(self, tls: Callable[[], ssl.SSLContext]) -> None:
        # Plain HTTP never uses this TLS context; it trusts no certificate at all.
        self._plain = httpx.AsyncHTTPTransport(verify=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
        self._make_tls = tls
        self._tls: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send over plain HTTP, or over TLS verified against the CA bundle."""
        if request.url.scheme != "https":
            return await self._plain.handle_async_request(request)
        if self._tls is None:
            self._tls = httpx.AsyncHTTPTransport(verify=self._make_tls())
        return await self._tls.handle_async_request(request)

    async def aclose(self) -> None:
        """Close both connection pools."""
        await self._plain.aclose()
        if self._tls is not None:
            await self._tls.aclose()


class RegistryTransport:
    """Sends requests to any number of registries; use it as an async context manager.

    A request names the ``Reference`` it acts for: its host is whom the credentials and
    tokens are for, its repository the token's scope.
    """

    def __init__(  # noqa: PLR0913 - keyword-only settings, each with a default
        self,
        *,
        credentials: CredentialStore | None = None,
        insecure_registries: frozenset[str] = frozenset(),
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        http_transport: httpx.AsyncBaseTransport | None = None,
        stats: ClientStats | None = None,
        tls: Callable[[], ssl.SSLContext] | None = None,
    ) -> None:
        """Configure; nothing connects until the first request.

        ``http_transport`` replaces httpx's (a test's mock); ``tls`` makes the context
        HTTPS is verified with, on the first HTTPS request.
        """
        self.credentials = credentials or CredentialStore()
        self.insecure_registries = insecure_registries
        self.retry = retry or RetryPolicy()
        self.stats = ClientStats() if stats is None else stats
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        self._http = httpx.AsyncClient(
            timeout=self._timeout,
            transport=http_transport or _DefaultTransport(tls or trust_context),
            follow_redirects=True,  # blob GETs may redirect to storage; httpx drops auth then
        )
        self._auth: dict[tuple[str, str], _Authorization] = {}
        self._renewing: dict[tuple[str, str], anyio.Lock] = {}  # one token fetch per scope
        self._asking: dict[str, anyio.Lock] = {}  # one credential lookup per registry
        self._in_flight: list[str] = []
        self._speaks_tls: set[str] = set()  # plain-HTTP hosts found to answer only TLS

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
        """``https``, except ``http`` for loopback registries and those named insecure.

        Those start with plain HTTP (no extra round trip for the usual local registry) and
        switch to HTTPS once the server answers that it speaks TLS (an SSH tunnel or a
        port-forward to an HTTPS registry): the scheme Docker would settle on, found the
        other way round.
        """
        plain = (is_loopback(host) or host in self.insecure_registries) and (
            host not in self._speaks_tls
        )
        return "http" if plain else "https"

    def attempts(self) -> Attempts:
        """The attempts of an operation that restarts itself, as a streamed one must."""
        return Attempts(self)

    async def failure_cause(self, error: httpx.TransportError, what: str) -> str:
        """Why a request failed in transport, worded for the user.

        Raises at once for what no new attempt can heal: a name that does not resolve, a
        server that does not speak TLS, a certificate that is not trusted.
        """
        await self._refuse_what_cannot_heal(error, what)
        if isinstance(error, httpx.TimeoutException):
            return self._timeout_cause(error)
        return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__

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
                headers=await self._headers(ref.host, scopes, headers, what),
                content=content,
            )
            sending = f"{method} {request.url}"
            self._in_flight.append(sending)
            self.stats.requests += 1
            try:
                response = await self._http.send(request, stream=True)
            finally:
                self._in_flight.remove(sending)
            try:
                if response.status_code != httpx.codes.UNAUTHORIZED or answered:
                    yield response
                    return
                await self._answer_challenge(ref.host, scopes, response, what)
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
        answered_challenge = False
        cause = ""
        unknown = False  # the last attempt was answered "unknown" (not a down registry)
        timeouts = 0
        attempts = 0
        while attempts < self.retry.attempts and timeouts < self.retry.timeout_attempts:
            if attempts:
                self.stats.retries += 1
            attempts += 1
            url = self._learned_scheme(url)  # an earlier attempt may have found TLS
            request = self._http.build_request(
                method,
                url,
                headers=await self._headers(ref.host, scopes, headers, what),
                content=content,
            )
            try:
                response = await self._send(request, limit)
                if response.status_code == httpx.codes.UNAUTHORIZED and not answered_challenge:
                    answered_challenge = True
                    await self._answer_challenge(ref.host, scopes, response, what)
                    request.headers.update(await self._headers(ref.host, scopes, None, what))
                    response = await self._send(request, limit)
            except httpx.TransportError as error:
                cause, unknown = await self.failure_cause(error, what), False
                if isinstance(error, httpx.TimeoutException):
                    timeouts += 1
                    if timeouts >= self.retry.timeout_attempts:
                        continue  # the loop ends: no pause before it
                await self._pause(attempts - 1, None)
                continue
            if response.status_code == httpx.codes.UNAUTHORIZED:
                sent = "the configured" if await self._credentials_for(ref.host) else "no"
                raise AuthenticationError(
                    f"{what}: {method} {request.url} answered {describe(response)} even with "
                    f"{sent} credentials; needed: credentials for {ref.host} of an account "
                    f"that may {'push to' if push else 'pull from'} {ref.repository}",
                    remedy=Remedy.CREDENTIALS,
                    host=ref.host,
                )
            if not self._worth_retrying(response, just_pushed=just_pushed):
                return response
            cause = f"{method} {request.url.path} answered {describe(response)}"
            unknown = response.status_code not in RETRY_STATUSES
            await self._pause(attempts - 1, response.headers.get("Retry-After"))
        raise self._exhausted(
            f"{what}: {method} {url}",
            ref,
            attempts,
            cause,
            https=url.scheme == "https",
            unknown=unknown,
            timeouts=timeouts,
        )

    # -- sending -----------------------------------------------------------------------

    def _learned_scheme(self, url: httpx.URL) -> httpx.URL:
        """``url``, over HTTPS if its host was found to answer only TLS.

        go-containerregistry's ``schemeTransport`` does the same: the caller builds the URL
        with the scheme it knew, the transport corrects it with what it learned since.
        """
        if url.scheme == "http" and url.netloc.decode("ascii") in self._speaks_tls:
            return url.copy_with(scheme="https")
        return url

    async def _send(self, request: httpx.Request, limit: int | None = None) -> httpx.Response:
        """Send once, counted; a request cut off by the deadline stays listed as in flight."""
        sending = f"{request.method} {request.url}"
        self._in_flight.append(sending)
        self.stats.requests += 1
        try:
            streamed = await self._http.send(request, stream=True)
            try:
                response = await _read(streamed, limit)
            finally:
                await streamed.aclose()
        except (httpx.TransportError, RegistryError):
            self._in_flight.remove(sending)
            raise
        self._in_flight.remove(sending)
        if request.url.scheme == "http" and _answers_only_tls(response):
            self._speaks_tls.add(request.url.netloc.decode("ascii"))
            secure = request.url.copy_with(scheme="https")
            again = self._http.build_request(
                request.method, secure, headers=request.headers, content=request.content
            )
            return await self._send(again, limit)
        return response

    # -- retries -----------------------------------------------------------------------

    async def _pause(self, attempt: int, retry_after: str | None) -> None:
        """Back off before the next attempt; after the last one there is nothing to wait for."""
        if attempt + 1 < self.retry.attempts:
            await anyio.sleep(self.retry.pause(attempt, retry_after))

    @staticmethod
    def _worth_retrying(response: httpx.Response, *, just_pushed: bool) -> bool:
        if response.status_code in RETRY_STATUSES:
            return True
        if just_pushed and response.status_code in (400, 404):
            return any(code in _NOT_YET_CODES for code, _ in _registry_errors(response))
        return False

    @staticmethod
    def _exhausted(  # noqa: PLR0913 - the state of the attempts, passed as it is
        request: str,
        ref: Reference,
        attempts: int,
        cause: str,
        *,
        https: bool,
        unknown: bool,
        timeouts: int,
    ) -> RegistryError:
        """The error once every attempt failed; plain HTTP is suggested only when it may help."""
        over_https = https and not unknown and not timeouts
        if unknown:
            advice = (
                f"{ref.host} answered, but kept reporting the content unknown: check that it "
                f"exists in {ref.repository_name}"
            )
        elif timeouts == attempts:
            advice = f"check that {ref.host} is up and answering"
        else:
            advice = f"check that {ref.host} is up and reachable" + (
                " over HTTPS" if over_https else ""
            )
        return RegistryError(
            f"{request} still failing after {attempts} attempts, last cause: {cause}; {advice}",
            remedy=Remedy.PLAIN_HTTP if over_https else None,
            host=ref.host,
        )

    # -- transport failures ------------------------------------------------------------

    def _timeout_cause(self, error: httpx.TimeoutException) -> str:
        """What a timeout means, in seconds: httpx's own message is often empty."""
        if isinstance(error, httpx.ConnectTimeout):
            return f"no connection within {self._timeout.connect:g} s"
        if isinstance(error, httpx.WriteTimeout):
            return f"the request could not be sent within {self._timeout.write:g} s"
        if isinstance(error, httpx.PoolTimeout):
            return f"no free connection within {self._timeout.pool:g} s"
        return f"no answer within {self._timeout.read:g} s"

    async def _refuse_what_cannot_heal(self, error: httpx.TransportError, what: str) -> None:
        """Raise at once for what no other attempt would change.

        A name that does not resolve, a server that does not speak TLS (plain HTTP answering
        the handshake), a certificate that is not trusted.
        """
        method, url = error.request.method, error.request.url
        root = _root_cause(error)
        host = f"{url.host}:{url.port}" if url.port else url.host
        if isinstance(root, ssl.SSLError) and root.reason in _NOT_TLS_REASONS:
            raise RegistryError(
                f"{what}: {method} {url} failed: {host} does not speak TLS on that port "
                f"({type(error).__name__}: {error}); check that {host} is reachable over HTTPS",
                remedy=Remedy.PLAIN_HTTP,
                host=host,
            ) from None
        if isinstance(root, socket.gaierror):
            raise RegistryError(
                f"{what}: {method} {url} failed: the name {url.host} does not resolve "
                f"({root.strerror or root}); check the registry's name and this machine's DNS",
                host=host,
            ) from None
        if isinstance(root, ssl.SSLCertVerificationError):
            issuer = ""
            with anyio.move_on_after(self._timeout.connect or 10.0):
                issuer = await peer_issuer(url.host, url.port or 443)
            raise RegistryError(
                f"{what}: {method} {url} failed: the TLS certificate of {host} is not trusted "
                f"({root.verify_message or root.reason})"
                + (f"; it was issued by {issuer}" if issuer else "")
                + "; needed: trust in the authority that issued it, or a certificate for the "
                "registry from one this machine trusts",
                remedy=Remedy.TRUST,
                host=host,
            ) from None

    # -- challenges and tokens ---------------------------------------------------------

    async def _headers(
        self, host: str, scopes: tuple[str, ...], extra: Mapping[str, str] | None, what: str
    ) -> dict[str, str]:
        headers = dict(extra or {})
        key = (host, " ".join(scopes))
        authorization = self._auth.get(key) or self._auth.get((host, ""))
        if authorization and authorization.challenge and _now() >= authorization.renew_at:
            authorization = await self._renewed(host, scopes, authorization, what)
        if authorization:
            headers["Authorization"] = authorization.header
        return headers

    async def _renewed(
        self, host: str, scopes: tuple[str, ...], stale: _Authorization, what: str
    ) -> _Authorization:
        """A token renewed once for all the requests that found it old.

        While the token service fails, the old token serves as long as it holds.
        """
        assert stale.challenge is not None  # noqa: S101 - the caller checked
        key = (host, " ".join(scopes))
        async with self._renewing.setdefault(key, anyio.Lock()):
            current = self._auth.get(key, stale)
            if current is not stale:
                return current  # renewed by another request meanwhile
            try:
                renewed = await self._bearer(host, scopes, stale.challenge, what)
            except AuthenticationError:
                if _now() < stale.expires_at:
                    return stale  # asked again by the next request
                raise
            self._auth[key] = renewed
            return renewed

    async def _credentials_for(self, host: str) -> Credentials | None:
        """The credentials for ``host``, looked up outside the event loop.

        A credential helper may wait minutes for a keyring to unlock. Meanwhile the loop
        serves the job's other requests and hears an interrupt, and a cancelled job stops
        waiting at once (the helper is left to its own timeout).
        """
        async with self._asking.setdefault(host, anyio.Lock()):  # the helper runs once
            return await off_the_loop(partial(self.credentials.for_host, host))

    async def _answer_challenge(
        self, host: str, scopes: tuple[str, ...], response: httpx.Response, what: str
    ) -> None:
        challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        credentials = await self._credentials_for(host)
        if challenge.scheme == "basic":
            if credentials is None:
                raise AuthenticationError(
                    f"{what}: {host} asks for a username and password and none is configured",
                    remedy=Remedy.CREDENTIALS,
                    host=host,
                )
            self._auth[(host, "")] = _Authorization(credentials.basic_header())
            return
        if challenge.scheme != "bearer" or "realm" not in challenge.params:
            raise AuthenticationError(
                f"{what}: expected a Basic or Bearer challenge from {host}, found "
                f"{response.headers.get('WWW-Authenticate', 'none')!r}"
            )
        key = (host, " ".join(scopes))
        async with self._renewing.setdefault(key, anyio.Lock()):
            current = self._auth.get(key)
            sent = response.request.headers.get("Authorization")
            if current and current.header != sent and _now() < current.renew_at:
                return  # requests sent at once share the token the first of them got
            self._auth[key] = await self._bearer(host, scopes, challenge, what)

    async def _bearer(
        self, host: str, scopes: tuple[str, ...], challenge: Challenge, what: str
    ) -> _Authorization:
        fetched = _now()
        token, seconds = await self._fetch_token(host, scopes, challenge, what)
        renew_at = fetched + seconds * (1 - RENEW_SHARE)
        return _Authorization(f"Bearer {token}", renew_at, fetched + seconds, challenge)

    async def _refresh_token_grant(
        self,
        realm: str,
        credentials: Credentials,
        scopes: tuple[str, ...],
        challenge: Challenge,
    ) -> httpx.Response | None:
        """An identity token is an OAuth2 refresh token: exchange it with POST (oauth.md).

        None when the server has no such endpoint (404): the spec then sends the client to
        the GET flow every token server supports.
        """
        assert credentials.identity_token is not None  # noqa: S101 - the caller checked
        form = {
            "grant_type": "refresh_token",
            "refresh_token": credentials.identity_token.get_secret_value(),
            "client_id": CLIENT_ID,
            "scope": " ".join(scopes),
        }
        if "service" in challenge.params:
            form["service"] = challenge.params["service"]
        self.stats.requests += 1
        response = await self._http.post(realm, data=form)
        return None if response.status_code == httpx.codes.NOT_FOUND else response

    async def _fetch_token(
        self, host: str, scopes: tuple[str, ...], challenge: Challenge, what: str
    ) -> tuple[str, float]:
        """A token for ``scopes``, and how many seconds it lives."""
        params: list[tuple[str, str | int | float | bool | None]] = [
            ("scope", scope) for scope in scopes
        ]
        if "service" in challenge.params:
            params.append(("service", challenge.params["service"]))
        credentials = await self._credentials_for(host)
        realm = challenge.params["realm"]
        try:
            response = None
            if credentials is not None and credentials.identity_token is not None:
                response = await self._refresh_token_grant(realm, credentials, scopes, challenge)
            if response is None:  # no identity token, or a server without the OAuth2 flow
                headers = {"Authorization": credentials.basic_header()} if credentials else {}
                self.stats.requests += 1
                response = await self._http.get(realm, params=params, headers=headers)
        except httpx.TransportError as error:
            raise AuthenticationError(
                f"{what}: the token service {realm} of {host} is unreachable ({error})"
            ) from None
        if response.status_code != httpx.codes.OK:
            denied = response.status_code == httpx.codes.FORBIDDEN  # the scope, not the login
            advice = (
                "the account may not have this access: grant it, or use one that has it"
                if denied
                else f"check the username and password for {host}"
            )
            raise AuthenticationError(
                f"{what}: the token service {realm} of {host} answered {describe(response)} "
                f"for {' '.join(scopes)}; {advice}",
                remedy=None if denied else Remedy.CREDENTIALS,
                host=host,
            )
        body = response.json()
        token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise AuthenticationError(f"{what}: the token service {realm} answered without a token")
        seconds = body.get("expires_in")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds <= 0:
            seconds = DEFAULT_TOKEN_SECONDS
        return token, float(seconds)
