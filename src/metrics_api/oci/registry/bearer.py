"""The Authorization header of each request: challenges answered, tokens fetched and renewed.

A registry asks with a ``WWW-Authenticate`` challenge: Basic takes the configured
credentials as they are, Bearer sends the client to a token service for a token per scope.
That token is fetched once per scope and shared by every request that needs it, and renewed
before it expires, so no request of a long job (a large layer's upload) is refused halfway.
An identity token is exchanged by the OAuth2 refresh-token grant (oauth.md), a password by
the GET flow every token service serves (token.md).
"""

import math
import re
import time
from collections.abc import Mapping
from functools import partial
from typing import Final, NamedTuple

import anyio
import httpx

from metrics_api.oci.concurrency import off_the_loop
from metrics_api.oci.errors import AuthenticationError, Remedy
from metrics_api.oci.registry.auth import Challenge, Credentials, CredentialStore, parse_challenge
from metrics_api.oci.registry.failures import worded
from metrics_api.oci.registry.responses import describe, hide_secrets, sent_secrets, shown_url
from metrics_api.oci.registry.retry import ClientStats

# A token without ``expires_in`` lives 60 s (token.md). One is renewed before a request once
# less than this share of its life is left, so no request of a long job (a large layer's
# upload) is sent with a token about to expire, refused 401 and, if streamed, restarted.
DEFAULT_TOKEN_SECONDS: Final = 60.0
RENEW_SHARE: Final = 0.25
CLIENT_ID: Final = "metrics-api"  # for the token server's audit log (oauth.md: client_id)
# What a token may hold: it goes into a header, where a newline or a NUL would be refused
# (or worse, split it); visible ASCII is what RFC 6750's b64token allows and more.
_VISIBLE_ASCII: Final = re.compile(r"[\x21-\x7e]+")


def _now() -> float:
    """The clock tokens are timed by (a test moves it)."""
    return time.monotonic()


class _Authorization(NamedTuple):
    """An Authorization header; for a Bearer token, when to renew it and from where.

    ``renew_at`` and ``expires_at`` are ``_now()`` times.
    """

    header: str
    renew_at: float = math.inf
    expires_at: float = math.inf
    challenge: Challenge | None = None


class TokenExchange:
    """The Authorization headers for any number of registries, kept per host and scope.

    Token requests go through ``http`` and are counted in ``stats`` like any other.
    """

    def __init__(
        self, credentials: CredentialStore, http: httpx.AsyncClient, stats: ClientStats
    ) -> None:
        """Answer challenges with ``credentials``; nothing is asked before the first one."""
        self.credentials = credentials
        self._http = http
        self._stats = stats
        self._auth: dict[tuple[str, str], _Authorization] = {}
        self._renewing: dict[tuple[str, str], anyio.Lock] = {}  # one token fetch per scope
        self._asking: dict[str, anyio.Lock] = {}  # one credential lookup per registry

    async def headers(
        self, host: str, scopes: tuple[str, ...], extra: Mapping[str, str] | None, what: str
    ) -> dict[str, str]:
        """``extra``, with the Authorization ``host`` asked for (renewed if it is getting old)."""
        headers = dict(extra or {})
        key = (host, " ".join(scopes))
        authorization = self._auth.get(key) or self._auth.get((host, ""))
        if authorization and authorization.challenge and _now() >= authorization.renew_at:
            authorization = await self._renewed(host, scopes, authorization, what)
        if authorization:
            headers["Authorization"] = authorization.header
        return headers

    async def credentials_for(self, host: str) -> Credentials | None:
        """The credentials for ``host``, looked up outside the event loop.

        A credential helper may wait minutes for a keyring to unlock. Meanwhile the loop
        serves the job's other requests and hears an interrupt, and a cancelled job stops
        waiting at once (the helper is left to its own timeout).
        """
        async with self._asking.setdefault(host, anyio.Lock()):  # the helper runs once
            return await off_the_loop(partial(self.credentials.for_host, host))

    async def answer_challenge(
        self, host: str, scopes: tuple[str, ...], response: httpx.Response, what: str
    ) -> None:
        """Get what the 401 ``response`` asks for, for the next request's ``headers``."""
        challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        credentials = await self.credentials_for(host)
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
            found = response.headers.get("WWW-Authenticate", "none")
            raise AuthenticationError(
                f"{what}: expected a Basic or Bearer challenge from {host}, found "
                f"{hide_secrets(found, sent_secrets(response))!r}"
            )
        key = (host, " ".join(scopes))
        async with self._renewing.setdefault(key, anyio.Lock()):
            current = self._auth.get(key)
            sent = response.request.headers.get("Authorization")
            if current and current.header != sent and _now() < current.renew_at:
                return  # requests sent at once share the token the first of them got
            self._auth[key] = await self._bearer(host, scopes, challenge, what)

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

    async def _bearer(
        self, host: str, scopes: tuple[str, ...], challenge: Challenge, what: str
    ) -> _Authorization:
        fetched = _now()
        token, seconds = await self._fetch_token(host, scopes, challenge, what)
        renew_at = fetched + seconds * (1 - RENEW_SHARE)
        return _Authorization(f"Bearer {token}", renew_at, fetched + seconds, challenge)

    async def _refresh_token_grant(
        self,
        realm: httpx.URL,
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
        self._stats.requests += 1
        response = await self._http.post(realm, data=form)
        return None if response.status_code == httpx.codes.NOT_FOUND else response

    async def _fetch_token(  # noqa: C901 - each way a token service can fail, worded
        self, host: str, scopes: tuple[str, ...], challenge: Challenge, what: str
    ) -> tuple[str, float]:
        """A token for ``scopes``, and how many seconds it lives."""
        params: list[tuple[str, str | int | float | bool | None]] = [
            ("scope", scope) for scope in scopes
        ]
        if "service" in challenge.params:
            params.append(("service", challenge.params["service"]))
        realm = _realm_url(challenge.params["realm"], host, what)
        credentials = await self.credentials_for(host)
        secrets = _secrets(credentials)
        try:
            response = None
            if credentials is not None and credentials.identity_token is not None:
                response = await self._refresh_token_grant(realm, credentials, scopes, challenge)
            if response is None:  # no identity token, or a server without the OAuth2 flow
                headers = {"Authorization": credentials.basic_header()} if credentials else {}
                self._stats.requests += 1
                response = await self._http.get(realm, params=params, headers=headers)
        except httpx.TransportError as error:
            raise AuthenticationError(
                f"{what}: the token service {shown_url(realm)} of {host} is unreachable "
                f"({worded(error)})"
            ) from None
        except httpx.RequestError as error:  # a redirect loop, a body that does not decode
            raise AuthenticationError(
                f"{what}: expected a token from the token service {shown_url(realm)} of {host}, "
                f"found {type(error).__name__}; check the registry's token service"
            ) from None
        if response.status_code != httpx.codes.OK:
            denied = response.status_code == httpx.codes.FORBIDDEN  # the scope, not the login
            advice = (
                "the account may not have this access: grant it, or use one that has it"
                if denied
                else f"check the username and password for {host}"
            )
            raise AuthenticationError(
                f"{what}: the token service {shown_url(realm)} of {host} answered "
                f"{describe(response, secrets)} "
                f"for {' '.join(scopes)}; {advice}",
                remedy=None if denied else Remedy.CREDENTIALS,
                host=host,
            )
        try:
            body = response.json()
        except ValueError:  # the body is not quoted: it may hold what was sent
            raise AuthenticationError(
                f"{what}: expected a JSON token from {shown_url(realm)}, found Content-Type "
                f"{response.headers.get('Content-Type') or 'none'} and {len(response.content)} "
                f"bytes that are not JSON; check the token realm in the challenge of {host}",
                host=host,
            ) from None
        token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise AuthenticationError(
                f"{what}: the token service {shown_url(realm)} answered without a token"
            )
        if not _VISIBLE_ASCII.fullmatch(token):  # not quoted: it is a secret
            raise AuthenticationError(
                f"{what}: expected a token of visible ASCII characters from the token service "
                f"{shown_url(realm)} of {host}, found a malformed one (control, space or "
                "non-ASCII characters); check the token service",
                host=host,
            )
        seconds = body.get("expires_in")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds <= 0:
            seconds = DEFAULT_TOKEN_SECONDS
        return token, float(seconds)


def _realm_url(realm: str, host: str, what: str) -> httpx.URL:
    """The token service's URL a challenge names; its realm is no secret, so it is quoted."""
    try:
        url = httpx.URL(realm)
    except httpx.InvalidURL:
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise AuthenticationError(
            f"{what}: expected the token realm in {host}'s challenge to be an http or https "
            f"URL, found {realm!r}, which is not a usable URL; check the registry's token "
            "service settings",
            host=host,
        )
    return url


def _secrets(credentials: Credentials | None) -> list[str]:
    """The secrets a token service is sent (a refresh token goes in the body, not a header)."""
    if credentials is None:
        return []
    sent = [credentials.password.get_secret_value()]
    if credentials.identity_token is not None:
        sent.append(credentials.identity_token.get_secret_value())
    return sent
