"""Write a published index and everything it references as an OCI image layout directory.

The layout (image-spec ``image-layout.md``) is what a user without a registry keeps of a
release: ``skopeo copy --all oci:DIR:TAG docker://...``, ``crane push`` or ``oras`` push it
later, byte for byte, so the digests stay the ones that were verified.
"""

import json
from functools import partial
from pathlib import Path

import anyio

from metrics_api.oci import media_types
from metrics_api.oci.client import RegistryClient
from metrics_api.oci.concurrency import run_all
from metrics_api.oci.errors import VerificationError
from metrics_api.oci.models import ImageIndex, ImageManifest, Manifest
from metrics_api.oci.reference import Reference

LAYOUT_VERSION = "1.0.0"
REF_NAME = "org.opencontainers.image.ref.name"


def _blob_path(directory: Path, digest: str) -> anyio.Path:
    algorithm, encoded = digest.split(":", 1)
    return anyio.Path(directory, "blobs", algorithm, encoded)


async def _write_blob(directory: Path, digest: str, data: bytes) -> None:
    path = _blob_path(directory, digest)
    await path.parent.mkdir(parents=True, exist_ok=True)
    await path.write_bytes(data)


async def _copy_blob(
    client: RegistryClient, source: Reference, directory: Path, digest: str
) -> None:
    if not await _blob_path(directory, digest).exists():
        await _write_blob(directory, digest, await client.get_blob(source, digest))


async def _copy_image(
    client: RegistryClient, source: Reference, directory: Path, digest: str
) -> None:
    image = await client.get_manifest(source.with_digest(digest))
    if not isinstance(image.document, ImageManifest):
        raise VerificationError(
            f"{source.with_digest(digest)}: expected an image manifest, found {image.media_type}"
        )
    blobs = [image.document.config.digest, *(layer.digest for layer in image.document.layers)]
    await run_all([partial(_copy_blob, client, source, directory, b) for b in dict.fromkeys(blobs)])
    await _write_blob(directory, digest, image.raw)


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
    await run_all([partial(_copy_image, client, index_ref, directory, d) for d in images])
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
