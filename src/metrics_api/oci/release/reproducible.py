"""A release's images made reproducible in the staging registry, before anything is checked.

With ``--source-date-epoch`` each staged image is normalised (``normalise.py``) right
after its build and before its provenance, SBOM, the check and the writes: the
normalised digest is the one the ledger, the provenance subject, the signatures and the
tags carry. The base image's layers are found by comparing the image with its base (the
last stage's ``FROM``, pushed beside it by the stager): the leading layers they share.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.release.normalise import Normalised, normalise_image
from metrics_api.oci.spec.models import ImageIndex, ImageManifest
from metrics_api.oci.spec.platform import Platform
from metrics_api.oci.spec.reference import Reference, parse_reference

if TYPE_CHECKING:
    from metrics_api.oci.release.job import VariantPlan

# Push a variant's base image (its last stage's FROM) beside it, given the plan and the
# address to push to: its pinned reference there, or None (FROM scratch or a stage).
StageBase = Callable[["VariantPlan", str], Awaitable[str | None]]


@dataclass(frozen=True)
class Reproducible:
    """``--source-date-epoch``: the epoch, and how to find each variant's base layers."""

    epoch: int
    stage_base: StageBase | None = None  # None: every layer is the build's


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


async def make_reproducible(  # noqa: PLR0913 - one variant and where it was staged
    client: RegistryClient,
    reproducible: Reproducible,
    *,
    plan: "VariantPlan",
    staged: Reference,
    base_address: str,
    base_host: str,
) -> Normalised:
    """Normalise one staged variant; the result names its new digest in the staging registry.

    ``base_address`` is where the stager pushes the base (the build tool's name of the
    staging registry); ``base_host`` is how this process reaches it.
    """
    base = None
    if reproducible.stage_base is not None:
        pinned = await reproducible.stage_base(plan, base_address)
        if pinned is not None:
            base = parse_reference(f"{base_host}/{staged.repository}@{pinned.partition('@')[2]}")
    keep = await base_layer_count(client, staged, base, plan.platform)
    return await normalise_image(
        client, staged, epoch=reproducible.epoch, keep=keep, what=f"{plan.platform} image"
    )
