"""Write a published index and everything it references as an OCI image layout directory.

The layout (image-spec ``image-layout.md``) is what a user without a registry keeps of a
release: ``skopeo copy --all oci:DIR:TAG docker://...``, ``crane push`` or ``oras`` push it
later, byte for byte, so the digests stay the ones that were verified.

Layers are streamed to disk, checked on the fly, and get their name only once proved right:
a layer of any size costs a piece of memory, and an interrupted export leaves no wrong blob.
"""

import json
from functools import partial
from pathlib import Path
from typing import Final

import anyio
import httpx

from metrics_api.oci.concurrency import run_all
from metrics_api.oci.errors import AuthenticationError, RegistryError, Remedy, VerificationError
from metrics_api.oci.registry.blobcopy import CONCURRENT_BLOBS
from metrics_api.oci.registry.blobstream import checked_pieces, describe_answer
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.registry.responses import shown_url
from metrics_api.oci.registry.transport import RETRY_STATUSES
from metrics_api.oci.spec import media_types
from metrics_api.oci.spec.models import Descriptor, ImageIndex, ImageManifest, Manifest
from metrics_api.oci.spec.reference import Reference

LAYOUT_VERSION = "1.0.0"
REF_NAME = "org.opencontainers.image.ref.name"
_RETRY_STATUSES: Final = RETRY_STATUSES | {408}


def _blob_path(directory: Path, digest: str) -> anyio.Path:
    algorithm, encoded = digest.split(":", 1)
    return anyio.Path(directory, "blobs", algorithm, encoded)


async def _write_blob(directory: Path, digest: str, data: bytes) -> None:
    path = _blob_path(directory, digest)
    await path.parent.mkdir(parents=True, exist_ok=True)
    await path.write_bytes(data)


def _refusal(status: int, what: str, cause: str, source: Reference) -> RegistryError:
    """The error for a blob GET answered with a status no new attempt changes."""
    if status == httpx.codes.UNAUTHORIZED:
        return AuthenticationError(
            f"{what}: {cause}; needed: credentials for {source.host} of an account that may "
            f"pull from {source.repository}",
            remedy=Remedy.CREDENTIALS,
            host=source.host,
        )
    advice = "check the registry's logs"
    if status == httpx.codes.FORBIDDEN:
        advice = "the credentials lack permission for this repository"
    elif status == httpx.codes.NOT_FOUND:
        advice = f"check that the blob exists in {source.repository_name}"
    return RegistryError(f"{what}: {cause}; {advice}")


async def _save_once(
    client: RegistryClient, source: Reference, blob: Descriptor, path: anyio.Path, what: str
) -> str:
    """One attempt at the whole blob; the cause of a failure worth another, else ``""``."""
    partial_path = path.with_name(f"{path.name}.partial")
    async with client.stream("GET", source, f"blobs/{blob.digest}", what=what) as fetched:
        if fetched.status_code != httpx.codes.OK:
            answer = await describe_answer(fetched)
            cause = f"GET {shown_url(fetched.request.url)} answered {answer}"
            if fetched.status_code in _RETRY_STATUSES:
                return cause
            raise _refusal(fetched.status_code, what, cause, source)
        try:
            async with await anyio.open_file(partial_path, "wb") as file:
                async for piece in checked_pieces(fetched, blob.digest, blob.size, what):
                    await file.write(piece)
            await partial_path.rename(path)
        except BaseException:
            with anyio.CancelScope(shield=True):  # cancelled too when another blob failed
                await partial_path.unlink(missing_ok=True)
            raise
    return ""


async def _save_blob(
    client: RegistryClient, source: Reference, directory: Path, blob: Descriptor
) -> None:
    """Stream one blob into the layout, from its first byte again when an attempt fails."""
    path = _blob_path(directory, blob.digest)
    if await path.exists():
        return
    await path.parent.mkdir(parents=True, exist_ok=True)
    what = f"fetching blob {blob.digest} of {source.repository_name}"
    attempts = client.attempts()
    async for _ in attempts:
        try:
            attempts.cause = await _save_once(client, source, blob, path, what)
        except httpx.TransportError as error:
            await attempts.failed(error, what)
            continue
        if not attempts.cause:
            return
    raise RegistryError(
        f"{what}: still failing after {attempts.made} attempts, each from the first byte, "
        f"last cause: {attempts.cause}; check that {source.host} is up and reachable"
    )


async def _image(client: RegistryClient, source: Reference, digest: str) -> Manifest:
    image = await client.get_manifest(source.with_digest(digest))
    if not isinstance(image.document, ImageManifest):
        raise VerificationError(
            f"{source.with_digest(digest)}: expected an image manifest, found {image.media_type}"
        )
    return image


async def write_layout(
    client: RegistryClient, index_ref: Reference, directory: Path, tag: str
) -> Manifest:
    """Copy the index at ``index_ref`` and its images into ``directory``, named ``tag``."""
    index = await client.get_manifest(index_ref)
    if not isinstance(index.document, ImageIndex):
        raise VerificationError(f"{index_ref}: expected an image index, found {index.media_type}")
    images = [
        e.digest for e in index.document.manifests if e.media_type in media_types.IMAGE_MANIFESTS
    ]
    manifests = await run_all([partial(_image, client, index_ref, d) for d in images])
    blobs = {
        blob.digest: blob
        for image in manifests
        if isinstance(image.document, ImageManifest)
        for blob in (image.document.config, *image.document.layers)
    }
    limiter = anyio.CapacityLimiter(CONCURRENT_BLOBS)

    async def save(blob: Descriptor) -> None:
        async with limiter:
            await _save_blob(client, index_ref, directory, blob)

    await run_all([partial(save, blob) for blob in blobs.values()])
    for image in manifests:
        await _write_blob(directory, image.digest, image.raw)
    await _write_blob(directory, index.digest, index.raw)
    descriptor = {
        "mediaType": index.media_type,
        "digest": index.digest,
        "size": index.size,
        "annotations": {REF_NAME: tag},
    }
    top = {"schemaVersion": 2, "mediaType": media_types.OCI_INDEX, "manifests": [descriptor]}
    await anyio.Path(directory, "index.json").write_text(json.dumps(top, indent=2) + "\n")
    layout = {"imageLayoutVersion": LAYOUT_VERSION}
    await anyio.Path(directory, "oci-layout").write_text(json.dumps(layout) + "\n")
    return index
