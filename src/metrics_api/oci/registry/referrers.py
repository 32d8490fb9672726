"""The OCI 1.1 referrers of a manifest: signatures, SBOMs and other artifacts attached to it.

An artifact names the manifest it is about in its ``subject``; a registry that serves the
referrers API lists them (``GET /v2/<name>/referrers/<digest>``, an image index of their
descriptors; distribution spec v1.1.1, "listing referrers"). A registry that does not
answers 404, and then there is nothing to list. Where a registry has no API, the spec's
fallback tag (``sha256-<hex>``, an index of the referrers' descriptors) lists them
instead: what is added there is added to what it holds, never put in its place.
"""

import json
from collections.abc import Sequence
from typing import Final

import httpx

from metrics_api.oci.errors import InvalidInputError, RegistryError, VerificationError
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.registry.retry import RETRY_STATUSES
from metrics_api.oci.spec import media_types
from metrics_api.oci.spec.digest import compute_digest, digest_as_tag
from metrics_api.oci.spec.models import Descriptor, ImageIndex, parse_manifest
from metrics_api.oci.spec.reference import Reference

# A referrers list is an index of descriptors; one this large is not a list of referrers.
LIST_LIMIT: Final = 4 * 1024 * 1024
_NOT_SERVED: Final = frozenset({400, 404, 405, 501})


async def _read(response: httpx.Response, what: str) -> bytes:
    body = b""
    async for piece in response.aiter_raw():
        body += piece
        if len(body) > LIST_LIMIT:
            raise RegistryError(
                f"{what}: the answer is larger than {LIST_LIMIT} bytes; a referrers list is "
                "an index of descriptors: check the registry"
            )
    return body


async def _attempt(
    client: RegistryClient, source: Reference, subject: str, what: str
) -> tuple[int, bytes, str | None]:
    async with client.stream(
        "GET",
        source,
        f"referrers/{subject}",
        what=what,
        headers={"Accept": media_types.OCI_INDEX},
    ) as response:
        if response.status_code != httpx.codes.OK:
            return response.status_code, b"", None
        return (
            response.status_code,
            await _read(response, what),
            response.headers.get("Content-Type"),
        )


async def list_referrers(
    client: RegistryClient, source: Reference, subject: str
) -> list[Descriptor]:
    """The descriptors of the manifests about ``subject`` in ``source``'s repository.

    Empty when the registry does not serve the referrers API.
    """
    return await find_referrers(client, source, subject) or []


async def find_referrers(
    client: RegistryClient, source: Reference, subject: str
) -> list[Descriptor] | None:
    """Like ``list_referrers``, but None when the registry does not serve the referrers API.

    It answers 404 then (some answer 400, 405 or 501 to a path they do not know).
    """
    what = f"listing the referrers of {subject} in {source.repository_name}"
    attempts = client.attempts()
    async for _ in attempts:
        try:
            status, body, content_type = await _attempt(client, source, subject, what)
        except httpx.TransportError as error:
            await attempts.failed(error, what)
            continue
        if status in RETRY_STATUSES:
            attempts.cause = f"HTTP {status}"
            continue
        if status in _NOT_SERVED:
            return None
        if status != httpx.codes.OK:
            raise RegistryError(
                f"{what}: the registry answered HTTP {status}; check the credentials' "
                "permissions and the registry's logs"
            )
        try:
            listed = parse_manifest(body, content_type, what)
        except InvalidInputError as error:  # the registry's answer, not the user's input
            raise RegistryError(f"{error}; check the registry's referrers API") from None
        if not isinstance(listed.document, ImageIndex):
            raise RegistryError(f"{what}: expected an image index, found {listed.media_type}")
        return list(listed.document.manifests)
    raise RegistryError(
        f"{what}: still failing after {attempts.made} attempts, last cause: {attempts.cause}; "
        f"check that {source.host} is up"
    )


def fallback_tag(repository: Reference, digest: str) -> Reference:
    """``REPO:sha256-HEX``: the referrers of ``digest`` where the registry has no API."""
    return repository.with_tag(digest_as_tag(digest))


async def add_to_fallback(
    client: RegistryClient, tag: Reference, added: Sequence[Descriptor]
) -> None:
    """Add ``added`` to the fallback index as it is now; never drop what it lists.

    Nothing is written when it lists them all already (a re-run).
    """
    current = await client.find_manifest(tag)
    document = current.document if current else None
    kept = list(document.manifests) if isinstance(document, ImageIndex) else []
    known = {entry.digest for entry in kept}
    new = [entry for entry in added if entry.digest not in known]
    if isinstance(document, ImageIndex) and not new:
        return
    entries = [entry.model_dump(by_alias=True, exclude_none=True) for entry in [*kept, *new]]
    raw = json.dumps(
        {"schemaVersion": 2, "mediaType": media_types.OCI_INDEX, "manifests": entries},
        separators=(",", ":"),
    ).encode()
    await client.put_manifest(tag, raw, media_types.OCI_INDEX)
    stored = await client.head_manifest(tag)
    if stored is None or stored.digest != compute_digest(raw):
        raise VerificationError(
            f"after adding referrers to {tag}, it holds {stored.digest if stored else 'nothing'}, "
            f"expected {compute_digest(raw)}: another writer wrote it in the same moment; run "
            "the job again (it adds only what is still missing)"
        )
