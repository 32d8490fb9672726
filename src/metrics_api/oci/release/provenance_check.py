"""Does each platform of an index carry its provenance? One check per image entry.

An image entry has its provenance when exactly one attestation entry of the index refers to
it and holds an SLSA statement (v1, or v0.2 from older BuildKit) whose subject is that very
image. Unless it is required, a platform without provenance is reported, not failed: most
indexes in the wild have none.
"""

import json
from functools import partial

from metrics_api.oci.concurrency import run_all
from metrics_api.oci.errors import OciError
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.release.attestations import (
    IN_TOTO,
    PREDICATE_TYPE,
    STATEMENT_LIMIT,
    reference_digest,
)
from metrics_api.oci.release.provenance import SLSA_PREDICATES
from metrics_api.oci.release.reports import Check
from metrics_api.oci.spec.models import Descriptor, ImageIndex, ImageManifest
from metrics_api.oci.spec.reference import Reference


def _subjects(raw: bytes) -> set[str]:
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


async def _provenance_of(
    client: RegistryClient, ref: Reference, entry: Descriptor, *, just_pushed: bool
) -> list[tuple[str, set[str]]]:
    """The SLSA statements of one attestation entry: (predicate type, subject digests) each."""
    manifest = await client.get_manifest(ref.with_digest(entry.digest), just_pushed=just_pushed)
    if not isinstance(manifest.document, ImageManifest):
        return []
    layers = [
        layer
        for layer in manifest.document.layers
        if layer.media_type == IN_TOTO
        and (layer.annotations or {}).get(PREDICATE_TYPE) in SLSA_PREDICATES
        and layer.size <= STATEMENT_LIMIT
    ]
    bodies = await run_all(
        [partial(client.get_blob, ref, layer.digest, just_pushed=just_pushed) for layer in layers]
    )
    return [
        (str((layer.annotations or {})[PREDICATE_TYPE]), _subjects(body))
        for layer, body in zip(layers, bodies, strict=True)
    ]


async def _check_image(  # noqa: PLR0913 - one check, its context passed in
    client: RegistryClient,
    ref: Reference,
    image: Descriptor,
    attestations: list[Descriptor],
    *,
    required: bool,
    just_pushed: bool,
) -> Check:
    name = f"provenance {image.platform}"
    about = [entry for entry in attestations if reference_digest(entry) == image.digest]
    try:
        found = await run_all(
            [partial(_provenance_of, client, ref, e, just_pushed=just_pushed) for e in about]
        )
    except OciError as error:
        return Check(name=name, ok=False, detail=str(error))
    carrying = [
        (entry, statements) for entry, statements in zip(about, found, strict=True) if statements
    ]
    if not carrying:
        detail = (
            "none (not required)"
            if not required
            else (f"expected one SLSA provenance attestation about {image.digest}, found none")
        )
        return Check(name=name, ok=not required, detail=detail)
    if len(carrying) > 1:
        listed = ", ".join(entry.digest for entry, _ in carrying)
        detail = f"expected one SLSA provenance attestation about {image.digest}, found {listed}"
        return Check(name=name, ok=False, detail=detail)
    entry, statements = carrying[0]
    wrong = [predicate for predicate, subjects in statements if image.digest not in subjects]
    if wrong:
        detail = (
            f"{entry.digest} is listed for {image.digest}, but its {', '.join(wrong)} "
            "statement's subjects do not name it"
        )
        return Check(name=name, ok=False, detail=detail)
    predicates = ", ".join(predicate for predicate, _ in statements)
    return Check(name=name, ok=True, detail=f"{entry.digest}: {predicates} about {image.digest}")


async def check_provenance(
    client: RegistryClient,
    ref: Reference,
    index: ImageIndex,
    *,
    required: bool,
    just_pushed: bool = False,
) -> list[Check]:
    """One ``provenance PLATFORM`` check per image entry.

    None when the index has no attestations and provenance is not required: the report of
    an index without any stays as it was.
    """
    attestations = [entry for entry in index.manifests if entry.is_attestation]
    if not attestations and not required:
        return []
    images = [entry for entry in index.manifests if entry.is_image]
    return await run_all(
        [
            partial(
                _check_image,
                client,
                ref,
                image,
                attestations,
                required=required,
                just_pushed=just_pushed,
            )
            for image in images
        ]
    )
