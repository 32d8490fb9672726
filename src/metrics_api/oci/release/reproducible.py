"""A release's images made reproducible in the staging registry, before anything is checked.

With ``--source-date-epoch`` each staged image is normalised (``normalise.py``) right
after its build and before its provenance, SBOM, the check and the writes: the
normalised digest is the one the ledger, the provenance subject, the signatures and the
tags carry. The base image's layers are found by comparing the image with its base (the
last stage's ``FROM``, pushed beside it by the stager): the leading layers they share.
"""

from functools import partial

from metrics_api.oci.concurrency import both
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.release.normalise import Normalised, normalise_image
from metrics_api.oci.spec.models import ImageIndex, ImageManifest
from metrics_api.oci.spec.platform import Platform
from metrics_api.oci.spec.reference import Reference


async def _layers(client: RegistryClient, ref: Reference, platform: Platform) -> list[str]:
    """The layer digests of ``ref``'s image for ``platform`` (an index is resolved)."""
    manifest = await client.get_manifest(ref)
    document = manifest.document
    if isinstance(document, ImageIndex):
        entry = next(
            (
                e
                for e in document.manifests
                if e.platform is not None and platform.matches(e.platform)
            ),
            None,
        )
        if entry is None:
            return []
        document = (await client.get_manifest(ref.with_digest(entry.digest))).document
    if not isinstance(document, ImageManifest):
        return []
    return [layer.digest for layer in document.layers]


async def make_reproducible(  # noqa: PLR0913 - one staged variant and how reports name it
    client: RegistryClient,
    epoch: int,
    *,
    staged: Reference,
    base: Reference | None,
    platform: Platform,
    what: str,
) -> Normalised:
    """Normalise one staged variant; the result names its new digest in the staging registry.

    ``base``: its base image as the stager pushed it beside it (None: FROM scratch); the
    leading layers the image shares with it are the base's, kept as they are.
    """

    async def base_layers() -> list[str]:
        return await _layers(client, base, platform) if base is not None else []

    manifest, theirs = await both(partial(client.get_manifest, staged), base_layers)
    document = manifest.document
    mine = (
        [layer.digest for layer in document.layers] if isinstance(document, ImageManifest) else []
    )
    keep = 0
    for ours, its in zip(mine, theirs, strict=False):
        if ours != its:
            break
        keep += 1
    return await normalise_image(
        client, staged, epoch=epoch, keep=keep, what=what, manifest=manifest
    )
