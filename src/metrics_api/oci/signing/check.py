"""Check a published release's signatures against public keys, as ``cosign verify`` would.

The index and every platform image need a signature by one of the keys, on a payload that
names that very digest; an image that carries provenance needs a signed SLSA provenance
attestation about it too, and one that carries an SBOM a signed SPDX attestation. A signed
attestation is not a signature: cosign v3 accepted an image that had only the former, so
each is looked for under its own tag.
"""

from collections.abc import Sequence
from functools import partial

from metrics_api.oci.checks import Check, EntryReport
from metrics_api.oci.concurrency import run_all
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.signing import cosign_format as cosign
from metrics_api.oci.signing.keys import PublicKey
from metrics_api.oci.signing.store import read_entries
from metrics_api.oci.spec import media_types
from metrics_api.oci.spec.reference import Reference

PROVENANCE_PREFIX = "https://slsa.dev/provenance/"
SPDX_DOCUMENT = "https://spdx.dev/Document"
# What each kind of statement is called in a report.
KINDS = {"provenance": "SLSA provenance", "sbom": "SPDX SBOM"}


def _of_kind(predicate_type: str, kind: str) -> bool:
    if kind == "sbom":
        return predicate_type == SPDX_DOCUMENT
    return predicate_type.startswith(PROVENANCE_PREFIX)


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


def _keys_text(keys: Sequence[PublicKey]) -> str:
    return ", ".join(key.key_id for key in keys)


async def _stored(
    client: RegistryClient, tag: Reference
) -> list[tuple[dict[str, object], bytes]] | None:
    manifest = await client.find_manifest(tag)
    return None if manifest is None else await read_entries(client, tag, manifest)


async def check_signature(
    client: RegistryClient, repository: Reference, what: str, digest: str, keys: Sequence[PublicKey]
) -> Check:
    """Whether ``digest`` has a signature by one of ``keys`` on a payload naming it."""
    tag = cosign.storage_tag(repository, digest, cosign.SIGNATURE_SUFFIX)
    name = f"signature {what}"
    stored = await _stored(client, tag)
    if not stored:
        return Check(
            name=name,
            ok=False,
            detail=f"{what} {digest} has no signature ({tag.tag} is absent or empty)",
        )
    other_digest = invalid = 0
    for layer, data in stored:
        if layer.get("mediaType") != cosign.SIMPLE_SIGNING:
            continue
        if cosign.signed_digest(data) != digest:
            other_digest += 1
            continue
        signature = cosign.layer_signature(layer)
        signer = next(
            (key for key in keys if signature is not None and key.verifies(data, signature)),
            None,
        )
        if signer is not None:
            return Check(
                name=name, ok=True, detail=f"{what} {digest} signed by key {signer.key_id}"
            )
        invalid += 1
    found = f"{tag.tag} holds {_count(len(stored), 'entry', 'entries')}: {invalid} by other keys "
    found += "or tampered" + (f", {other_digest} naming another digest" if other_digest else "")
    return Check(
        name=name,
        ok=False,
        detail=f"{what} {digest} has no valid signature by key {_keys_text(keys)} ({found})",
    )


def attests(statement: bytes, digest: str, kind: str) -> bool:
    """Whether ``statement`` is a ``kind`` statement ("provenance", "sbom") about ``digest``."""
    facts = cosign.statement_facts(statement)
    return facts is not None and _of_kind(facts[0], kind) and digest in facts[1]


async def check_attestation(  # noqa: PLR0913 - one check, its context passed in
    client: RegistryClient,
    repository: Reference,
    what: str,
    digest: str,
    keys: Sequence[PublicKey],
    *,
    kind: str = "provenance",
) -> Check:
    """Whether ``digest`` has a ``kind`` statement about it signed by one of ``keys``."""
    tag = cosign.storage_tag(repository, digest, cosign.ATTESTATION_SUFFIX)
    label = KINDS[kind]
    name = f"signed {kind} {what}"
    stored = await _stored(client, tag) or []
    for layer, data in stored:
        opened = (
            cosign.open_envelope(data) if layer.get("mediaType") == cosign.DSSE_ENVELOPE else None
        )
        if opened is None or not attests(opened.statement, digest, kind):
            continue
        signer = next((key for key in keys if opened.signed_by(key)), None)
        if signer is not None:
            return Check(
                name=name,
                ok=True,
                detail=f"{kind} of {what} {digest} signed by key {signer.key_id}",
            )
    return Check(
        name=name,
        ok=False,
        detail=(
            f"{what} {digest} carries {kind} but no {label} about it signed by "
            f"key {_keys_text(keys)} ({tag.tag} holds {_count(len(stored), 'entry', 'entries')})"
        ),
    )


def signed_subjects(
    index_digest: str, entries: Sequence[EntryReport], sbom_images: frozenset[str]
) -> list[tuple[str, str, str]]:
    """What a verified index needs signed: the index, each image, each image's statements.

    Each as (what, digest, kind), kind "signature", "provenance" or "sbom";
    ``sbom_images``: the images whose SBOM the verification found.
    """
    attested = {
        entry.annotations.get(media_types.DOCKER_REFERENCE_DIGEST)
        for entry in entries
        if media_types.DOCKER_REFERENCE_DIGEST in entry.annotations
    }
    subjects = [("index", index_digest, "signature")]
    for entry in entries:
        if media_types.DOCKER_REFERENCE_DIGEST in entry.annotations:
            continue
        what = f"{entry.platform} image"
        subjects.append((what, entry.digest, "signature"))
        if entry.digest in attested:
            subjects.append((what, entry.digest, "provenance"))
        if entry.digest in sbom_images:
            subjects.append((what, entry.digest, "sbom"))
    return subjects


async def check_release_signatures(  # noqa: PLR0913 - a verified index and what it holds
    client: RegistryClient,
    repository: Reference,
    index_digest: str,
    entries: Sequence[EntryReport],
    keys: Sequence[PublicKey],
    *,
    sbom_images: frozenset[str] = frozenset(),
) -> list[Check]:
    """The signature checks of a verified index: the index, each image, each statement."""
    return await run_all(
        [
            partial(check_signature, client, repository, what, digest, keys)
            if kind == "signature"
            else partial(check_attestation, client, repository, what, digest, keys, kind=kind)
            for what, digest, kind in signed_subjects(index_digest, entries, sbom_images)
        ]
    )
