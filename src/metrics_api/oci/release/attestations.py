"""Docker's attestations (provenance, SBOMs): carried into the release index, and checked.

Docker 29 pushes each platform as an index of the image and an attestation manifest whose
index entry has the platform ``unknown/unknown`` and the annotations
``vnd.docker.reference.type=attestation-manifest`` and ``vnd.docker.reference.digest``
naming the image; the manifest's layers are in-toto statements, each annotated with its
``in-toto.io/predicate-type`` (docs.docker.com, "Image attestation storage").

Kept, a variant's attestation manifests go into the release index right after its image,
each with its descriptor exactly as the variant's index had it, and are made present in the
target repository like any child. Verification checks every attestation entry of an index,
whoever made it: present with its size, about an image of the index, made of in-toto
statements about that image, and never a match for a platform a client pulls.
"""

import json
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Final, NamedTuple

from metrics_api.oci.checks import Check
from metrics_api.oci.concurrency import run_all
from metrics_api.oci.defaults import ATTESTATION_MODES
from metrics_api.oci.errors import InvalidInputError, OciError, ResolutionError
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.spec import media_types
from metrics_api.oci.spec.models import Descriptor, ImageIndex, ImageManifest, Manifest
from metrics_api.oci.spec.reference import Reference

REFERENCE_DIGEST: Final = media_types.DOCKER_REFERENCE_DIGEST
IN_TOTO: Final = "application/vnd.in-toto+json"
PREDICATE_TYPE: Final = "in-toto.io/predicate-type"
STATEMENT_TYPES: Final = ("https://in-toto.io/Statement/v0.1", "https://in-toto.io/Statement/v1")
# Statements are read whole to be checked; one larger than this is checked for presence only.
STATEMENT_LIMIT: Final = 64 * 1024 * 1024


def keep_attestations(mode: str) -> bool:
    """``keep`` or ``drop``: whether the release index carries the variants' attestations."""
    if mode not in ATTESTATION_MODES:
        raise InvalidInputError(
            f"expected the attestation mode keep or drop, found {mode!r}; keep carries each "
            "variant's provenance and SBOM attestations into the index, drop leaves them out"
        )
    return mode == "keep"


class Attestation(NamedTuple):
    """An attestation manifest of a variant, and its entry exactly as the variant's index had it."""

    entry: Mapping[str, object]  # the descriptor's JSON object, key order kept
    descriptor: Descriptor
    manifest: Manifest
    source: Reference  # the repository it was read from, which holds its statements

    @property
    def blobs(self) -> list[str]:
        """The digests of its configuration and its statements."""
        document = self.manifest.document
        assert isinstance(document, ImageManifest)  # noqa: S101 - checked when fetched
        return document.blob_digests


def reference_digest(entry: Descriptor) -> str | None:
    """The image an attestation entry is about (``vnd.docker.reference.digest``)."""
    return (entry.annotations or {}).get(REFERENCE_DIGEST)


def entries_about(
    wrapper: Manifest, image_digest: str
) -> list[tuple[dict[str, object], Descriptor]]:
    """The attestation entries of ``wrapper`` about ``image_digest``, in the index's order."""
    if not isinstance(wrapper.document, ImageIndex):
        return []
    raw = json.loads(wrapper.raw)["manifests"]
    return [
        (entry, descriptor)
        for entry, descriptor in zip(raw, wrapper.document.manifests, strict=True)
        if descriptor.is_attestation and reference_digest(descriptor) == image_digest
    ]


async def _fetch(
    client: RegistryClient, source: Reference, entry: dict[str, object], descriptor: Descriptor
) -> Attestation:
    manifest = await client.get_manifest(source.with_digest(descriptor.digest))
    if manifest.size != descriptor.size or not isinstance(manifest.document, ImageManifest):
        raise ResolutionError(
            f"variant {source}: its index lists the attestation manifest {descriptor.digest} "
            f"as {descriptor.size} bytes of {descriptor.media_type}, found {manifest.size} bytes "
            f"of {manifest.media_type}; push the variant again, or leave attestations out"
        )
    return Attestation(entry, descriptor, manifest, source)


async def fetch_attestations(
    client: RegistryClient, source: Reference, wrapper: Manifest, image_digest: str
) -> tuple[Attestation, ...]:
    """The attestation manifests ``wrapper`` lists for ``image_digest``, fetched and checked."""
    found = entries_about(wrapper, image_digest)
    return tuple(await run_all([partial(_fetch, client, source, e, d) for e, d in found]))


# -- verification ------------------------------------------------------------------------


def _problems_of_statement(raw: bytes, annotated: str | None, image: str | None) -> list[str]:
    try:
        statement = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return ["a statement is not JSON"]
    if not isinstance(statement, dict):
        return ["a statement is not a JSON object"]
    problems = []
    if statement.get("_type") not in STATEMENT_TYPES:
        problems.append(f"a statement's _type is {statement.get('_type')!r}, not in-toto's")
    if statement.get("predicateType") != annotated:
        problems.append(
            f"a statement says predicateType {statement.get('predicateType')!r}, its layer "
            f"annotation says {annotated!r}"
        )
    subjects = statement.get("subject")
    named = {
        f"{algorithm}:{value}"
        for subject in (subjects if isinstance(subjects, list) else [])
        if isinstance(subject, dict) and isinstance(subject.get("digest"), dict)
        for algorithm, value in subject["digest"].items()
    }
    if image is not None and image not in named:
        problems.append(f"a {annotated} statement's subjects do not name {image}")
    return problems


async def _check_entry(  # noqa: PLR0913 - one check, its context passed in
    client: RegistryClient,
    ref: Reference,
    entry: Descriptor,
    name: str,
    images: Mapping[str, Descriptor],
    *,
    just_pushed: bool,
) -> Check:
    image = reference_digest(entry)
    try:
        manifest = await client.get_manifest(ref.with_digest(entry.digest), just_pushed=just_pushed)
        if not isinstance(manifest.document, ImageManifest):
            detail = f"{entry.digest} is a {manifest.media_type}, expected an image manifest"
            return Check(name=name, ok=False, detail=detail)
        layers = manifest.document.layers
        statements = [layer for layer in layers if layer.media_type == IN_TOTO]
        bodies = await run_all(
            [
                partial(client.get_blob, ref, layer.digest, just_pushed=just_pushed)
                for layer in statements
                if layer.size <= STATEMENT_LIMIT
            ]
        )
    except OciError as error:
        return Check(name=name, ok=False, detail=str(error))
    problems = []
    if manifest.size != entry.size:
        problems.append(f"entry says {entry.size} bytes, manifest has {manifest.size}")
    if image not in images:
        problems.append(f"it is about {image or 'no image'}, which is no image entry of the index")
    if not statements:
        problems.append(f"it has no {IN_TOTO} layer")
    predicates = [(layer.annotations or {}).get(PREDICATE_TYPE) for layer in statements]
    problems.extend(
        f"the statement {layer.digest} has no {PREDICATE_TYPE} annotation"
        for layer, predicate in zip(statements, predicates, strict=True)
        if not predicate
    )
    checked = [
        p for layer, p in zip(statements, predicates, strict=True) if layer.size <= STATEMENT_LIMIT
    ]
    for raw, predicate in zip(bodies, checked, strict=True):
        problems.extend(_problems_of_statement(raw, predicate, image))
    return Check(
        name=name,
        ok=not problems,
        detail="; ".join(problems)
        or f"{entry.digest} is in {ref.repository_name}, {manifest.size} bytes, about {image}: "
        + ", ".join(str(p) for p in predicates),
    )


def _names(attestations: Sequence[Descriptor], images: Mapping[str, Descriptor]) -> list[str]:
    """``attestation linux/arm64/v8`` (numbered when an image has several)."""
    bases = []
    for entry in attestations:
        image = images.get(reference_digest(entry) or "")
        bases.append(f"attestation {image.platform if image else entry.digest}")
    return [
        f"{base} ({bases[:position].count(base) + 1})" if bases.count(base) > 1 else base
        for position, base in enumerate(bases)
    ]


def _index_checks(
    attestations: Sequence[Descriptor], images: Mapping[str, Descriptor]
) -> list[Check]:
    orphans = [e for e in attestations if reference_digest(e) not in images]
    # A client that knows nothing of attestations (containerd) takes the first entry whose
    # platform matches, and an entry without a platform as a match: so each needs one that
    # matches no image's platform.
    matching = [
        e
        for e in attestations
        if e.platform is None
        or any(i.platform is not None and i.platform.matches(e.platform) for i in images.values())
    ]
    return [
        Check(
            name="attestations name images",
            ok=not orphans,
            detail=", ".join(
                f"{e.digest} is about {reference_digest(e)}, not in the index" for e in orphans
            )
            or f"each of the {len(attestations)} attestation entries is about an image entry",
        ),
        Check(
            name="attestations match no platform",
            ok=not matching,
            detail=", ".join(f"{e.digest} has platform {e.platform or 'none'}" for e in matching)
            or "every attestation entry has a platform no image has (unknown/unknown): a "
            "pulling client's choice is unchanged",
        ),
    ]


async def check_attestations(
    client: RegistryClient, ref: Reference, index: ImageIndex, just_pushed: bool
) -> list[Check]:
    """The checks of every attestation entry of ``index`` (none when it has none)."""
    attestations = [entry for entry in index.manifests if entry.is_attestation]
    if not attestations:
        return []
    images = {entry.digest: entry for entry in index.manifests if entry.is_image}
    names = _names(attestations, images)
    entries = await run_all(
        [
            partial(_check_entry, client, ref, entry, name, images, just_pushed=just_pushed)
            for entry, name in zip(attestations, names, strict=True)
        ]
    )
    return [*entries, *_index_checks(attestations, images)]
