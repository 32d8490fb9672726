"""An async client for the OCI distribution API (v1.1.1), just the calls this project needs.

It retries what is worth retrying (429 with ``Retry-After``, 5xx, dropped connections,
content a registry briefly reports as unknown right after a push) a bounded number of
times, answers auth challenges, and checks every byte it receives against its digest.
"""

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Final, Self

import anyio
import httpx

from metrics_api.oci import media_types
from metrics_api.oci.auth import Challenge, CredentialStore, parse_challenge
from metrics_api.oci.digest import check_digest
from metrics_api.oci.errors import AuthenticationError, RegistryError, Remedy
from metrics_api.oci.models import Descriptor, Manifest, parse_manifest
from metrics_api.oci.reference import Reference, is_loopback

_RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
# Codes a registry may answer for content it has not finished storing (anchors.md item 7).
_NOT_YET_CODES: Final = frozenset({"MANIFEST_UNKNOWN", "BLOB_UNKNOWN", "MANIFEST_BLOB_UNKNOWN"})


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts per request and the exponential backoff between them."""

    attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 5.0
    max_retry_after: float = 30.0

    def delay(self, attempt: int, retry_after: str | None) -> float:
        """Seconds to wait before attempt ``attempt + 1``; honours ``Retry-After`` seconds."""
        if retry_after is not None:
            try:
                seconds = float(retry_after)
            except ValueError:
                pass  # an HTTP date: fall back to our own backoff
            else:
                return min(max(seconds, 0.0), self.max_retry_after)
        return min(self.base_delay * 2.0**attempt, self.max_delay)


@dataclass
class ClientStats:
    """What the client did, for reports and benchmarks."""

    requests: int = 0
    retries: int = 0


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


class _DefaultTransport(httpx.AsyncBaseTransport):
    """httpx's default transport, except that the HTTPS one is made on the first HTTPS request.

    Making it loads the CA bundle, about 20 ms of CPU, which a job that only talks to
    plain-HTTP registries (loopback, ``insecure_registries``) never needs.
    """

    def __init__(self) -> None:
        # Plain HTTP never uses this TLS context; it trusts no certificate at all.
        self._plain = httpx.AsyncHTTPTransport(verify=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
        self._tls: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send over plain HTTP, or over TLS verified against the CA bundle."""
        if request.url.scheme != "https":
            return await self._plain.handle_async_request(request)
        if self._tls is None:
            self._tls = httpx.AsyncHTTPTransport()
        return await self._tls.handle_async_request(request)

    async def aclose(self) -> None:
        """Close both connection pools."""
        await self._plain.aclose()
        if self._tls is not None:
            await self._tls.aclose()


def _describe(response: httpx.Response) -> str:
    errors = _registry_errors(response)
    detail = "; ".join(f"{code}: {message}" for code, message in errors)
    return f"HTTP {response.status_code}" + (f" ({detail})" if detail else "")


class RegistryClient:
    """One client for any number of registries; use it as an async context manager."""

    def __init__(
        self,
        *,
        credentials: CredentialStore | None = None,
        insecure_registries: frozenset[str] = frozenset(),
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """Configure; nothing connects until the first request."""
        self.credentials = credentials or CredentialStore()
        self.insecure_registries = insecure_registries
        self.retry = retry or RetryPolicy()
        self.stats = ClientStats()
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport or _DefaultTransport(),
            follow_redirects=True,  # blob GETs may redirect to storage; httpx drops auth then
        )
        self._auth: dict[tuple[str, str], str] = {}
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

    def base_url(self, host: str) -> str:
        """HTTPS, except for loopback registries and those named insecure."""
        plain = is_loopback(host) or host in self.insecure_registries
        return f"{'http' if plain else 'https'}://{host}/v2/"

    # -- manifests ---------------------------------------------------------------------

    async def get_manifest(self, ref: Reference, *, just_pushed: bool = False) -> Manifest:
        """Fetch a manifest or index by tag or digest and check its bytes."""
        what = f"fetching manifest {ref}"
        response = await self._request(
            "GET",
            ref,
            f"manifests/{ref.manifest_reference}",
            what=what,
            headers={"Accept": media_types.MANIFEST_ACCEPT},
            just_pushed=just_pushed,
        )
        self._expect(response, {200}, what, missing_hint=f"check that {ref} was pushed")
        raw = response.content
        if ref.digest:
            check_digest(raw, ref.digest, what)
        announced = response.headers.get("Docker-Content-Digest")
        if announced:
            check_digest(raw, announced, f"{what} (Docker-Content-Digest)")
        manifest = parse_manifest(raw, response.headers.get("Content-Type"), what)
        return manifest if not ref.digest else _with_digest(manifest, ref.digest)

    async def head_manifest(self, ref: Reference) -> Descriptor | None:
        """The descriptor a tag or digest points at, or None when it does not exist."""
        what = f"checking manifest {ref}"
        response = await self._request(
            "HEAD",
            ref,
            f"manifests/{ref.manifest_reference}",
            what=what,
            headers={"Accept": media_types.MANIFEST_ACCEPT},
        )
        if response.status_code == httpx.codes.NOT_FOUND:
            return None
        self._expect(response, {200}, what)
        digest = response.headers.get("Docker-Content-Digest") or ref.digest
        if not digest:  # the registry does not say: read the bytes and hash them
            manifest = await self.get_manifest(ref)
            return manifest.descriptor()
        return Descriptor(
            media_type=response.headers.get("Content-Type", "").split(";", 1)[0],
            digest=digest,
            size=int(response.headers.get("Content-Length", "0")),
        )

    async def put_manifest(self, ref: Reference, raw: bytes, media_type: str) -> bool:
        """Store ``raw`` byte for byte under ``ref`` (a tag or a digest).

        True when the registry confirmed the digest of what it stored (the
        ``Docker-Content-Digest`` of its answer); a different digest is an error.
        """
        what = f"pushing manifest {ref}"
        response = await self._request(
            "PUT",
            ref,
            f"manifests/{ref.manifest_reference}",
            what=what,
            headers={"Content-Type": media_type},
            content=raw,
            push=True,
            just_pushed=True,
        )
        self._expect(response, {201}, what)
        announced = response.headers.get("Docker-Content-Digest")
        if announced:
            check_digest(raw, announced, f"{what} (the registry's Docker-Content-Digest)")
        return bool(announced)

    # -- blobs -------------------------------------------------------------------------

    async def get_blob(self, ref: Reference, digest: str, *, just_pushed: bool = False) -> bytes:
        """Fetch a blob of ``ref``'s repository and check it against ``digest``."""
        what = f"fetching blob {digest} of {ref.repository_name}"
        response = await self._request(
            "GET", ref, f"blobs/{digest}", what=what, just_pushed=just_pushed
        )
        self._expect(response, {200}, what)
        check_digest(response.content, digest, what)
        return response.content

    async def blob_size(self, ref: Reference, digest: str) -> int | None:
        """The size of a blob in ``ref``'s repository, or None when it is not there."""
        what = f"checking blob {digest} in {ref.repository_name}"
        response = await self._request("HEAD", ref, f"blobs/{digest}", what=what)
        if response.status_code == httpx.codes.NOT_FOUND:
            return None
        self._expect(response, {200}, what)
        return int(response.headers.get("Content-Length", "-1"))

    async def mount_blob(self, target: Reference, digest: str, source: Reference) -> bool:
        """Ask the registry to link a blob from ``source``'s repository; False if it won't."""
        what = f"mounting blob {digest} from {source.repository_name} into {target.repository}"
        response = await self._request(
            "POST",
            target,
            "blobs/uploads/",
            what=what,
            params={"mount": digest, "from": source.repository},
            push=True,
            extra_scopes=(f"repository:{source.repository}:pull",),
        )
        self._expect(response, {201, 202}, what)
        if response.status_code == httpx.codes.CREATED:
            return True
        # 202: the registry opened an upload session instead; close it, the caller uploads.
        location = response.headers.get("Location")
        if location:
            await self._request("DELETE", target, location, what=f"{what} (closing upload)")
        return False

    async def upload_blob(self, target: Reference, digest: str, data: bytes) -> None:
        """Upload a blob monolithically (POST, then PUT with ``?digest=``)."""
        check_digest(data, digest, f"uploading blob {digest}")
        what = f"uploading blob {digest} to {target.repository_name}"
        started = await self._request("POST", target, "blobs/uploads/", what=what, push=True)
        self._expect(started, {202}, what)
        location = started.headers.get("Location")
        if not location:
            raise RegistryError(f"{what}: the registry answered 202 without a Location header")
        finished = await self._request(
            "PUT",
            target,
            location,
            what=what,
            params={"digest": digest},
            headers={"Content-Type": "application/octet-stream"},
            content=data,
            push=True,
        )
        self._expect(finished, {201}, what)

    # -- transport ---------------------------------------------------------------------

    def _expect(
        self, response: httpx.Response, statuses: set[int], what: str, missing_hint: str = ""
    ) -> None:
        if response.status_code in statuses:
            return
        request = response.request
        advice = "check the reference and the registry's logs"
        if response.status_code == httpx.codes.NOT_FOUND:
            advice = missing_hint or "check that the repository and content exist"
        elif response.status_code == httpx.codes.FORBIDDEN:
            advice = "the credentials lack permission for this repository"
        raise RegistryError(
            f"{what}: {request.method} {request.url} answered {_describe(response)}; {advice}"
        )

    async def _request(  # noqa: PLR0913 - one place that knows every request option
        self,
        method: str,
        ref: Reference,
        path: str,
        *,
        what: str,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        params: Mapping[str, str] | None = None,
        push: bool = False,
        just_pushed: bool = False,
        extra_scopes: tuple[str, ...] = (),
    ) -> httpx.Response:
        """Send one logical request, with auth and bounded retries."""
        # Paths are relative to the repository; upload Locations arrive absolute.
        relative = not path.startswith(("/", "http://", "https://"))
        url = httpx.URL(self.base_url(ref.host)).join(
            f"{ref.repository}/{path}" if relative else path
        )
        if params:  # merged here: httpx would replace a Location's own query (its upload state)
            url = url.copy_merge_params(params)
        scopes = (f"repository:{ref.repository}:{'pull,push' if push else 'pull'}", *extra_scopes)
        answered_challenge = False
        cause = ""
        unknown = False  # the last attempt was answered "unknown" (not a down registry)
        for attempt in range(self.retry.attempts):
            if attempt:
                self.stats.retries += 1
            request = self._http.build_request(
                method,
                url,
                headers=self._headers(ref.host, scopes, headers),
                content=content,
            )
            try:
                response = await self._send(request)
                if response.status_code == httpx.codes.UNAUTHORIZED and not answered_challenge:
                    answered_challenge = True
                    await self._answer_challenge(ref.host, scopes, response, what)
                    request.headers.update(self._headers(ref.host, scopes, None))
                    response = await self._send(request)
            except httpx.TransportError as error:
                cause, unknown = f"{type(error).__name__}: {error}", False
                await self._pause(attempt, None)
                continue
            if response.status_code == httpx.codes.UNAUTHORIZED:
                sent = "the configured" if self.credentials.for_host(ref.host) else "no"
                raise AuthenticationError(
                    f"{what}: {method} {request.url} answered {_describe(response)} even with "
                    f"{sent} credentials; needed: credentials for {ref.host} of an account "
                    f"that may {'push to' if push else 'pull from'} {ref.repository}",
                    remedy=Remedy.CREDENTIALS,
                    host=ref.host,
                )
            if not self._worth_retrying(response, just_pushed=just_pushed):
                return response
            cause = f"{method} {request.url.path} answered {_describe(response)}"
            unknown = response.status_code not in _RETRY_STATUSES
            await self._pause(attempt, response.headers.get("Retry-After"))
        over_https = url.scheme == "https" and not unknown
        raise RegistryError(
            f"{what}: {method} {url} still failing after {self.retry.attempts} attempts, "
            f"last cause: {cause}; "
            + (
                f"{ref.host} answered, but kept reporting the content unknown: check that it "
                f"exists in {ref.repository_name}"
                if unknown
                else f"check that {ref.host} is up and reachable"
                + (" over HTTPS" if over_https else "")
            ),
            remedy=Remedy.PLAIN_HTTP if over_https else None,
            host=ref.host,
        )

    async def _send(self, request: httpx.Request) -> httpx.Response:
        """Send once, counted; a request cut off by the deadline stays listed as in flight."""
        sending = f"{request.method} {request.url}"
        self._in_flight.append(sending)
        self.stats.requests += 1
        try:
            response = await self._http.send(request)
        except httpx.TransportError:
            self._in_flight.remove(sending)
            raise
        self._in_flight.remove(sending)
        return response

    async def _pause(self, attempt: int, retry_after: str | None) -> None:
        """Back off before the next attempt; after the last one there is nothing to wait for."""
        if attempt + 1 < self.retry.attempts:
            await anyio.sleep(self.retry.delay(attempt, retry_after))

    @staticmethod
    def _worth_retrying(response: httpx.Response, *, just_pushed: bool) -> bool:
        if response.status_code in _RETRY_STATUSES:
            return True
        if just_pushed and response.status_code in (400, 404):
            return any(code in _NOT_YET_CODES for code, _ in _registry_errors(response))
        return False

    def _headers(
        self, host: str, scopes: tuple[str, ...], extra: Mapping[str, str] | None
    ) -> dict[str, str]:
        headers = dict(extra or {})
        authorization = self._auth.get((host, " ".join(scopes))) or self._auth.get((host, ""))
        if authorization:
            headers["Authorization"] = authorization
        return headers

    async def _answer_challenge(
        self, host: str, scopes: tuple[str, ...], response: httpx.Response, what: str
    ) -> None:
        challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        credentials = self.credentials.for_host(host)
        if challenge.scheme == "basic":
            if credentials is None:
                raise AuthenticationError(
                    f"{what}: {host} asks for a username and password and none is configured",
                    remedy=Remedy.CREDENTIALS,
                    host=host,
                )
            self._auth[(host, "")] = credentials.basic_header()
            return
        if challenge.scheme != "bearer" or "realm" not in challenge.params:
            raise AuthenticationError(
                f"{what}: expected a Basic or Bearer challenge from {host}, found "
                f"{response.headers.get('WWW-Authenticate', 'none')!r}"
            )
        self._auth[(host, " ".join(scopes))] = "Bearer " + await self._fetch_token(
            host, scopes, challenge, what
        )

    async def _fetch_token(
        self, host: str, scopes: tuple[str, ...], challenge: Challenge, what: str
    ) -> str:
        params: list[tuple[str, str | int | float | bool | None]] = [
            ("scope", scope) for scope in scopes
        ]
        if "service" in challenge.params:
            params.append(("service", challenge.params["service"]))
        credentials = self.credentials.for_host(host)
        headers = {"Authorization": credentials.basic_header()} if credentials else {}
        realm = challenge.params["realm"]
        self.stats.requests += 1
        try:
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
                f"{what}: the token service {realm} of {host} answered {_describe(response)} "
                f"for {' '.join(scopes)}; {advice}",
                remedy=None if denied else Remedy.CREDENTIALS,
                host=host,
            )
        body = response.json()
        token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise AuthenticationError(f"{what}: the token service {realm} answered without a token")
        return token


def _with_digest(manifest: Manifest, digest: str) -> Manifest:
    """Keep the digest the content was asked for by (it may use sha512)."""
    return manifest if manifest.digest == digest else replace(manifest, digest=digest)
