"""The OCI distribution API (v1.1.1) over the transport, just the calls this project needs.

Manifests (get, head, put) and blobs (get, size, mount), each checking every byte it
receives against its digest, and ``stream`` for the operations on content too large to
hold (a blob copy, a layout export, a referrers listing). This side knows the endpoints
(``/v2/<name>/manifests/<reference>``, ``blobs/<digest>``, ``blobs/uploads/``), which
answers each expects and what they mean; how a request is sent, authorized, retried, and
how a failed one is worded is ``transport``'s. The split is go-containerregistry's
(``pkg/v1/remote`` over ``pkg/v1/remote/transport``): new API calls (referrers, fallback
tags, artifact pushes) are written here or beside it, on ``stream`` or the transport's
``request``, and leave the transport as it is.
"""

import hashlib
import re
from collections.abc import AsyncIterable, Mapping
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Final, Self

import httpx

from metrics_api.oci.defaults import MAX_MANIFEST_BYTES, REQUEST_TIMEOUT
from metrics_api.oci.errors import RegistryError
from metrics_api.oci.registry.answers import (
    checked_manifest,
    expect,
    too_large,
)
from metrics_api.oci.registry.auth import CredentialStore
from metrics_api.oci.registry.responses import BodyTooLargeError
from metrics_api.oci.registry.retry import Attempts, ClientStats, RetryPolicy
from metrics_api.oci.registry.transport import RegistryTransport
from metrics_api.oci.spec import media_types
from metrics_api.oci.spec.digest import check_digest
from metrics_api.oci.spec.models import Descriptor, Manifest
from metrics_api.oci.spec.reference import Reference

# httpx keeps up to 20 idle connections alive; opened ahead beyond that, they would close.
PRECONNECT_LIMIT = 16
# A URL's scheme (RFC 3986): what an absolute Location starts with.
_SCHEME: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def joined(base: str, ref: Reference, path: str) -> httpx.URL:
    """A path in ``ref``'s repository, or a Location the registry gave, joined to ``base``.

    A path in the repository is appended: a repository name, a tag and a digest have no
    dot segment or character to quote by their grammar, so there is nothing to resolve.
    A Location on another host is followed (a storage backend's), without the registry's
    credentials (``gate.CredentialGate``); one that is no http(s) URL is refused.
    """
    scheme = _SCHEME.match(path)
    if scheme and scheme.group(1).lower() not in ("http", "https"):
        raise RegistryError(
            "expected the registry's Location to be a path or an http(s) URL, found a URL "
            f"of scheme {scheme.group(1)}; check the registry's storage settings"
        )
    try:
        if not path.startswith("/") and not scheme:
            return httpx.URL(f"{base}{ref.repository}/{path}")
        return httpx.URL(base).join(path)
    except httpx.InvalidURL:  # not quoted: an upload URL may carry a signature
        raise RegistryError(
            "expected the registry's Location to be a path or an http(s) URL, found one "
            f"that does not parse; check the registry at {ref.host}"
        ) from None


class RegistryClient:
    """One client for any number of registries; use it as an async context manager.

    ``transport`` (the attribute) sends its requests; the ``transport`` argument is the
    httpx transport under it (the session's pools, or a test's mock).
    """

    def __init__(  # noqa: PLR0913 - keyword-only settings, each with a default
        self,
        *,
        credentials: CredentialStore | None = None,
        insecure_registries: frozenset[str] = frozenset(),
        retry: RetryPolicy | None = None,
        timeout: float = REQUEST_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        stats: ClientStats | None = None,
    ) -> None:
        """Configure; nothing connects until the first request."""
        self.transport = RegistryTransport(
            credentials=credentials,
            insecure_registries=insecure_registries,
            retry=retry,
            timeout=timeout,
            http_transport=transport,
            stats=stats,
        )

    @property
    def stats(self) -> ClientStats:
        """The requests sent and the retries made, for reports and benchmarks."""
        return self.transport.stats

    async def __aenter__(self) -> Self:
        """Open the connection pool."""
        await self.transport.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the connection pool."""
        await self.transport.__aexit__(exc_type, exc, tb)

    def base_url(self, host: str) -> str:
        """The root of the API on ``host``, over the scheme the transport speaks to it."""
        return f"{self.transport.scheme(host)}://{host}/v2/"

    async def preconnect(self, host: str, connections: int) -> None:
        """Open up to ``connections`` more connections to ``host`` for requests about to go at once.

        At most ``PRECONNECT_LIMIT``: beyond what the pool keeps alive they would be closed.
        """
        await self.transport.preconnect(
            httpx.URL(self.base_url(host)), min(connections, PRECONNECT_LIMIT)
        )

    def attempts(self) -> Attempts:
        """The attempts of an operation that restarts itself, as one on ``stream`` must."""
        return self.transport.attempts()

    def stream(  # noqa: PLR0913 - the request options of the transport's ``stream``
        self,
        method: str,
        ref: Reference,
        path: str,
        *,
        what: str,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        content: AsyncIterable[bytes] | None = None,
        push: bool = False,
    ) -> AbstractAsyncContextManager[httpx.Response]:
        """One request to ``path`` (see ``_url``), its answer handed over unread.

        For content too large to hold; not retried (``RegistryTransport.stream`` says why):
        the caller restarts its whole operation, counted by ``attempts``.
        """
        url = self._url(ref, path, params)
        return self.transport.stream(
            method, ref, url, what=what, headers=headers, content=content, push=push
        )

    # -- manifests ---------------------------------------------------------------------

    async def get_manifest(self, ref: Reference, *, just_pushed: bool = False) -> Manifest:
        """Fetch a manifest or index by tag or digest and check its bytes."""
        manifest = await self._get_manifest(ref, just_pushed=just_pushed, missing_ok=False)
        assert manifest is not None  # noqa: S101 - a 404 raised
        return manifest

    async def find_manifest(self, ref: Reference) -> Manifest | None:
        """Like ``get_manifest``, but None when the tag or digest does not exist (one request)."""
        return await self._get_manifest(ref, just_pushed=False, missing_ok=True)

    async def _get_manifest(
        self, ref: Reference, *, just_pushed: bool, missing_ok: bool
    ) -> Manifest | None:
        what = f"fetching manifest {ref}"
        try:
            response = await self.transport.request(
                "GET",
                ref,
                self._url(ref, f"manifests/{ref.manifest_reference}"),
                what=what,
                headers={"Accept": media_types.MANIFEST_ACCEPT},
                just_pushed=just_pushed,
                limit=MAX_MANIFEST_BYTES,
            )
        except BodyTooLargeError as refused:
            raise too_large(refused, what) from None
        if missing_ok and response.status_code == httpx.codes.NOT_FOUND:
            return None
        expect(response, {200}, what, missing_hint=f"check that {ref} was pushed")
        return checked_manifest(response, ref, what)

    async def head_manifest(self, ref: Reference) -> Descriptor | None:
        """The descriptor a tag or digest points at, or None when it does not exist."""
        what = f"checking manifest {ref}"
        response = await self.transport.request(
            "HEAD",
            ref,
            self._url(ref, f"manifests/{ref.manifest_reference}"),
            what=what,
            headers={"Accept": media_types.MANIFEST_ACCEPT},
        )
        if response.status_code == httpx.codes.NOT_FOUND:
            return None
        expect(response, {200}, what)
        digest = response.headers.get("Docker-Content-Digest") or ref.digest
        if not digest:  # the registry does not say: read the bytes and hash them
            manifest = await self.get_manifest(ref)
            return manifest.descriptor()
        return Descriptor(
            media_type=response.headers.get("Content-Type", "").split(";", 1)[0],
            digest=digest,
            size=int(response.headers.get("Content-Length", "0")),
        )

    async def put_manifest(self, ref: Reference, raw: bytes, media_type: str) -> None:
        """Store ``raw`` byte for byte under ``ref`` (a tag or a digest).

        A ``Docker-Content-Digest`` in the answer other than the digest of ``raw`` is an
        error.
        """
        what = f"pushing manifest {ref}"
        response = await self.transport.request(
            "PUT",
            ref,
            self._url(ref, f"manifests/{ref.manifest_reference}"),
            what=what,
            headers={"Content-Type": media_type},
            content=raw,
            push=True,
            just_pushed=True,
        )
        expect(response, {201}, what)
        announced = response.headers.get("Docker-Content-Digest")
        if announced:
            check_digest(raw, announced, f"{what} (the registry's Docker-Content-Digest)")

    # -- blobs -------------------------------------------------------------------------

    async def get_blob(self, ref: Reference, digest: str, *, just_pushed: bool = False) -> bytes:
        """Fetch a blob of ``ref``'s repository and check it against ``digest``."""
        what = f"fetching blob {digest} of {ref.repository_name}"
        response = await self.transport.request(
            "GET", ref, self._url(ref, f"blobs/{digest}"), what=what, just_pushed=just_pushed
        )
        expect(response, {200}, what)
        check_digest(response.content, digest, what)
        return response.content

    async def blob_size(self, ref: Reference, digest: str) -> int | None:
        """The size of a blob in ``ref``'s repository, or None when it is not there."""
        what = f"checking blob {digest} in {ref.repository_name}"
        response = await self.transport.request(
            "HEAD", ref, self._url(ref, f"blobs/{digest}"), what=what
        )
        if response.status_code == httpx.codes.NOT_FOUND:
            return None
        expect(response, {200}, what)
        return int(response.headers.get("Content-Length", "-1"))

    async def put_blob(self, ref: Reference, data: bytes, *, look_first: bool = True) -> str:
        """Upload a small blob this job made (a statement) in one PUT; its digest.

        Nothing is sent when the repository has it already; ``look_first=False`` skips that
        look for a blob that is almost always new (a fresh signature), one round trip less.
        """
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if look_first and await self.blob_size(ref, digest) is not None:
            return digest
        what = f"uploading blob {digest} to {ref.repository_name}"
        started = await self.transport.request(
            "POST", ref, self._url(ref, "blobs/uploads/"), what=what, push=True
        )
        expect(started, {202}, what)
        location = started.headers.get("Location")
        if not location:
            raise RegistryError(f"{what}: the registry answered 202 without a Location")
        finished = await self.transport.request(
            "PUT",
            ref,
            self._url(ref, location, {"digest": digest}),
            what=what,
            headers={"Content-Type": "application/octet-stream"},
            content=data,
            push=True,
        )
        expect(finished, {201}, what)
        return digest

    async def mount_blob(self, target: Reference, digest: str, source: Reference) -> bool:
        """Ask the registry to link a blob from ``source``'s repository; False if it won't."""
        what = f"mounting blob {digest} from {source.repository_name} into {target.repository}"
        response = await self.transport.request(
            "POST",
            target,
            self._url(target, "blobs/uploads/", {"mount": digest, "from": source.repository}),
            what=what,
            push=True,
            extra_scopes=(f"repository:{source.repository}:pull",),
        )
        expect(response, {201, 202}, what)
        if response.status_code == httpx.codes.CREATED:
            return True
        # 202: the registry opened an upload session instead; close it, the caller uploads.
        location = response.headers.get("Location")
        if location:
            await self.transport.request(
                "DELETE", target, self._url(target, location), what=f"{what} (closing upload)"
            )
        return False

    # -- addresses and answers ---------------------------------------------------------

    def _url(self, ref: Reference, path: str, params: Mapping[str, str] | None = None) -> httpx.URL:
        """A path in ``ref``'s repository, or an upload Location (absolute), with ``params``."""
        url = joined(self.base_url(ref.host), ref, path)
        if params:  # merged here: httpx would replace a Location's own query (its upload state)
            url = url.copy_merge_params(params)
        return url
