"""The attestation manifest a release stages beside each image, as BuildKit writes it.

One OCI image manifest whose layers are in-toto statements about the image (the SBOM
first, then the provenance: BuildKit's order), each annotated with its predicate type, and
a configuration of platform ``unknown/unknown`` listing them as ``diff_ids``. A
Docker-29-style wrapper index lists the image and then this manifest (platform
``unknown/unknown``, the ``vnd.docker.reference`` annotations): the layout ``docker buildx
imagetools inspect`` and the release's attestation path read.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import Final

from metrics_api.oci.errors import ResolutionError
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.release.attestations import IN_TOTO, PREDICATE_TYPE, REFERENCE_DIGEST
from metrics_api.oci.release.provenance import canonical
from metrics_api.oci.spec import media_types
from metrics_api.oci.spec.models import (
    ImageConfig,
    ImageManifest,
    Manifest,
    parse_config,
    parse_manifest,
)
from metrics_api.oci.spec.platform import Platform
from metrics_api.oci.spec.reference import Reference

UNKNOWN_PLATFORM: Final = {"architecture": "unknown", "os": "unknown"}


@dataclass(frozen=True)
class Statement:
    """One in-toto statement about an image, with its predicate type."""

    predicate_type: str
    body: bytes


@dataclass(frozen=True)
class AttestationManifest:
    """An attestation manifest's blobs (configuration, statements) and its exact bytes."""

    config: bytes
    statements: tuple[bytes, ...]
    manifest: Manifest


def _descriptor(media_type: str, body: bytes, **extra: object) -> dict[str, object]:
    return {
        "mediaType": media_type,
        "digest": f"sha256:{sha256(body).hexdigest()}",
        "size": len(body),
        **extra,
    }


def attestation_manifest(statements: Sequence[Statement]) -> AttestationManifest:
    """BuildKit's attestation manifest: ``unknown/unknown`` config, a layer per statement."""
    layers = [
        _descriptor(IN_TOTO, s.body, annotations={PREDICATE_TYPE: s.predicate_type})
        for s in statements
    ]
    config = canonical(
        {
            **UNKNOWN_PLATFORM,
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [layer["digest"] for layer in layers]},
        }
    )
    raw = canonical(
        {
            "schemaVersion": 2,
            "mediaType": media_types.OCI_MANIFEST,
            "config": _descriptor(media_types.OCI_CONFIG, config),
            "layers": layers,
        }
    )
    bodies = tuple(s.body for s in statements)
    return AttestationManifest(config, bodies, parse_manifest(raw, None, "attestation"))


def attestation_entry(attestation: Manifest, image_digest: str) -> dict[str, object]:
    """Its index entry: ``unknown/unknown``, and the two references to its image."""
    return {
        "mediaType": attestation.media_type,
        "digest": attestation.digest,
        "size": attestation.size,
        "annotations": {
            REFERENCE_DIGEST: image_digest,
            media_types.DOCKER_REFERENCE_TYPE: media_types.ATTESTATION_MANIFEST,
        },
        "platform": dict(UNKNOWN_PLATFORM),
    }


def wrapper_index(
    image: Manifest, platform: Platform, entries: Sequence[Mapping[str, object]]
) -> Manifest:
    """The Docker-29-style index of one image and its attestation entries, in that order."""
    raw = canonical(
        {
            "schemaVersion": 2,
            "mediaType": media_types.OCI_INDEX,
            "manifests": [
                {
                    "mediaType": image.media_type,
                    "digest": image.digest,
                    "size": image.size,
                    "platform": platform.to_json(),
                },
                *entries,
            ],
        }
    )
    return parse_manifest(raw, None, "wrapper index")


async def staged_image(client: RegistryClient, staged: Reference) -> tuple[Manifest, ImageConfig]:
    """The staged variant's image manifest and configuration (what statements are about)."""
    image = await client.get_manifest(staged)
    if not isinstance(image.document, ImageManifest):
        raise ResolutionError(
            f"{staged}: expected the staged variant to be an image manifest, found a "
            f"{image.media_type}; attestations are made for the image itself, so the build "
            "must push one image (no attestations of its own) and return its digest"
        )
    config = parse_config(
        await client.get_blob(staged, image.document.config.digest), f"configuration of {staged}"
    )
    return image, config


async def stage_attestations(
    client: RegistryClient,
    staged: Reference,
    image: Manifest,
    config: ImageConfig,
    statements: Sequence[Statement],
) -> Reference:
    """Push the statements, their attestation manifest and a wrapper index next to ``staged``.

    ``staged``: the staging repository @ the image digest. The wrapper's image entry has
    the platform of the image's own configuration. Returns the staging repository @ the
    wrapper index's digest.
    """
    made = attestation_manifest(statements)
    for blob in (*made.statements, made.config):
        await client.put_blob(staged, blob)
    manifest = made.manifest
    await client.put_manifest(
        staged.with_digest(manifest.digest), manifest.raw, manifest.media_type
    )
    wrapper = wrapper_index(image, config.platform, [attestation_entry(manifest, image.digest)])
    pinned = staged.with_digest(wrapper.digest)
    await client.put_manifest(pinned, wrapper.raw, wrapper.media_type)
    return pinned
