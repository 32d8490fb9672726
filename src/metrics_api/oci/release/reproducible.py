"""A release's images made reproducible in the staging registry, before anything is checked.

With ``--source-date-epoch`` each staged image is normalised (``normalise.py``) right
after its build and before its provenance, SBOM, the check and the writes: the
normalised digest is the one the ledger, the provenance subject, the signatures and the
tags carry. The base image's layers are found by comparing the image with its base (the
last stage's ``FROM``, pushed beside it by the stager): the leading layers they share.
"""

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
        wanted = platform.normalized()
        entry = next(
            (
                e
                for e in document.manifests
                if e.platform is not None and e.platform.normalized() == wanted
            ),
            None,
        )
        if entry is None:
            return []
        document = (await client.get_manifest(ref.with_digest(entry.digest))).document
    if not isinstance(document, ImageManifest):
        return []
    return [layer.digest for layer in document.layers]


async def base_layer_count(
    client: RegistryClient, image: Reference, base: Reference | None, platform: Platform
) -> int:
    """How many leading layers ``image`` shares with ``base``: the ones its build did not add."""
    if base is None:
        return 0
    mine, theirs = await _layers(client, image, platform), await _layers(client, base, platform)
    shared = 0
    for ours, its in zip(mine, theirs, strict=False):
        if ours != its:
            break
        shared += 1
    return shared


async def make_reproducible(
    client: RegistryClient,
    epoch: int,
    *,
    staged: Reference,
    base: Reference | None,
    platform: Platform,
) -> Normalised:
    """Normalise one staged variant; the result names its new digest in the staging registry.

    ``base``: its base image as the stager pushed it beside it (None: FROM scratch).
    """
    keep = await base_layer_count(client, staged, base, platform)
    return await normalise_image(client, staged, epoch=epoch, keep=keep, what=f"{platform} image")
