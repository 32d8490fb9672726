"""The in-toto statements an index's attestations hold about each of its images.

The per-platform checks (provenance_check.py, sbom_check.py) read them alike: for each
image entry, every attestation entry that names it, and in each of those the layers of
the predicate types the check wants, read whole (up to ``STATEMENT_LIMIT``).
"""

import json
from collections.abc import Awaitable, Callable, Collection
from functools import partial
from typing import Final, TypeVar

from metrics_api.oci.concurrency import run_all
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.release.attestations import IN_TOTO, PREDICATE_TYPE, STATEMENT_LIMIT
from metrics_api.oci.spec.models import Descriptor, ImageIndex, ImageManifest
from metrics_api.oci.spec.reference import Reference

SLSA_V1: Final = "https://slsa.dev/provenance/v1"
SLSA_V02: Final = "https://slsa.dev/provenance/v0.2"  # what older BuildKit writes
SLSA_PREDICATES: Final = (SLSA_V1, SLSA_V02)
SPDX_DOCUMENT: Final = "https://spdx.dev/Document"
SPDX_VERSION: Final = "SPDX-2.3"

T = TypeVar("T")
# One image's check: the client, the index's reference, the image, the index's attestations.
ImageCheck = Callable[[RegistryClient, Reference, Descriptor, list[Descriptor]], Awaitable[T]]


def subjects_of(raw: bytes) -> set[str]:
    """The ``algorithm:value`` digests a statement's subjects name (none when unreadable)."""
    try:
        statement = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return set()
    subjects = statement.get("subject") if isinstance(statement, dict) else None
    return {
        f"{algorithm}:{value}"
        for subject in (subjects if isinstance(subjects, list) else [])
        if isinstance(subject, dict) and isinstance(subject.get("digest"), dict)
        for algorithm, value in subject["digest"].items()
    }


async def statements_in(
    client: RegistryClient,
    ref: Reference,
    entry: Descriptor,
    predicates: Collection[str],
    *,
    just_pushed: bool,
) -> list[tuple[str, bytes]]:
    """One attestation entry's statements of the ``predicates`` types: (type, body) each."""
    manifest = await client.get_manifest(ref.with_digest(entry.digest), just_pushed=just_pushed)
    if not isinstance(manifest.document, ImageManifest):
        return []
    layers = [
        (layer, str((layer.annotations or {}).get(PREDICATE_TYPE)))
        for layer in manifest.document.layers
        if layer.media_type == IN_TOTO and layer.size <= STATEMENT_LIMIT
    ]
    wanted = [(layer, predicate) for layer, predicate in layers if predicate in predicates]
    bodies = await run_all(
        [
            partial(client.get_blob, ref, layer.digest, just_pushed=just_pushed)
            for layer, _ in wanted
        ]
    )
    return [(predicate, body) for (_, predicate), body in zip(wanted, bodies, strict=True)]


async def check_each_image(
    check: ImageCheck[T],
    client: RegistryClient,
    ref: Reference,
    index: ImageIndex,
    *,
    required: bool,
) -> list[T] | None:
    """``check`` of every image entry of ``index``, with the attestations of the index.

    None when the index has no attestations and nothing is required: the report of an
    index without any stays as it was.
    """
    attestations = [entry for entry in index.manifests if entry.is_attestation]
    if not attestations and not required:
        return None
    images = [entry for entry in index.manifests if entry.is_image]
    return await run_all([partial(check, client, ref, image, attestations) for image in images])
