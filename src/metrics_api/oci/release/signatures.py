"""What a release signs: its index, each platform image, and each image's statements.

The subjects come from the index the release built and the variants it resolved, so they
are known before anything is written; the statements are the in-toto layers of each
variant's attestation manifests (its provenance, and an SBOM a builder attached), signed
as the DSSE attestations ``cosign attest`` stores.
"""

from collections.abc import Sequence
from functools import partial

from metrics_api.oci.concurrency import run_all
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.release.resolve import ResolvedVariant
from metrics_api.oci.signing.cosign_format import IN_TOTO
from metrics_api.oci.signing.store import Signer, SigningPlan, Subject, plan_signing
from metrics_api.oci.spec.models import ImageManifest, Manifest
from metrics_api.oci.spec.reference import Reference


async def _statements(client: RegistryClient, variant: ResolvedVariant) -> tuple[bytes, ...]:
    """Its attestations' statements, each read where its attestation was found.

    A kept published attestation is in the target, not in this run's staging registry.
    """
    layers = [
        (attestation.source, layer.digest)
        for attestation in variant.attestations
        if isinstance(attestation.manifest.document, ImageManifest)
        for layer in attestation.manifest.document.layers
        if layer.media_type == IN_TOTO
    ]
    fetched = await run_all([partial(client.get_blob, where, d) for where, d in layers])
    return tuple(fetched)


async def plan_release_signing(
    client: RegistryClient,
    target: Reference,
    index: Manifest,
    variants: Sequence[ResolvedVariant],
    signer: Signer | None,
) -> SigningPlan | None:
    """Read the signature tags of the index and each image (the check: no write).

    None when there is no ``signer``: the release is not signed.
    """
    if signer is None:
        return None
    statements = await run_all([partial(_statements, client, v) for v in variants])
    subjects = [
        Subject("index", index.digest),
        *(
            Subject(f"{variant.declared} image", variant.manifest.digest, found)
            for variant, found in zip(variants, statements, strict=True)
        ),
    ]
    return await plan_signing(client, target, subjects, signer)
