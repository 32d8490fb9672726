"""Sign a release by digest: look at its signature tags first, then add only what is missing.

Planned with the release's check (reads only), written after the index verified and
before any tag moves. A ``.sig`` or ``.att`` tag is a set cosign appends to: a signature
already there by the same key is found and nothing is written (ECDSA signatures differ
on every run, so signing again would pile up copies); another key's signatures are kept
and the new one is added next to them. Nothing is ever removed from those tags.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Protocol

from metrics_api.oci.concurrency import both, run_all
from metrics_api.oci.errors import VerificationError
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.signing import cosign_format as cosign
from metrics_api.oci.signing.keys import PublicKey
from metrics_api.oci.spec import media_types
from metrics_api.oci.spec.digest import compute_digest
from metrics_api.oci.spec.models import Manifest
from metrics_api.oci.spec.reference import Reference


class Signer(Protocol):
    """What signs: a key today; a keyless signer would sign through the same two members.

    Keyless signing adds a Fulcio certificate and a transparency-log entry to each layer;
    the plan, check and write steps stay as they are.
    """

    @property
    def public(self) -> PublicKey:
        """The key its signatures verify with."""
        ...

    def sign(self, data: bytes) -> bytes:
        """An ECDSA P-256 signature of ``data`` (SHA-256), ASN.1 DER."""
        ...


@dataclass(frozen=True)
class Subject:
    """A manifest to sign by digest, and the in-toto statements about it to attest."""

    what: str  # "index", "linux/amd64 image": how reports name it
    digest: str
    statements: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class StoragePlan:
    """One ``.sig`` or ``.att`` tag as the check found it, and what this key must add."""

    tag: Reference
    subject: Subject
    kind: str  # "signature" or "attestation"
    found: Manifest | None
    missing: tuple[bytes, ...]  # payloads (or statements) with no entry by this key yet
    others: int  # entries no key of ours made: kept as they are


@dataclass(frozen=True)
class SigningPlan:
    """Every storage tag a release signs, and who signs."""

    signer: Signer
    tags: tuple[StoragePlan, ...]

    @property
    def key_id(self) -> str:
        """The signing key, as reports name it."""
        return self.signer.public.key_id

    @property
    def writes(self) -> bool:
        """Whether any signature or attestation is still to be written."""
        return any(tag.missing for tag in self.tags)


async def read_entries(
    client: RegistryClient, tag: Reference, found: Manifest | None
) -> list[tuple[dict[str, object], bytes]]:
    """Each entry of a signature tag's manifest ``found``: its layer and its blob."""
    layers = cosign.existing_layers(found)
    data = await run_all(
        [partial(client.get_blob, tag, str(layer.get("digest"))) for layer in layers]
    )
    return list(zip(layers, data, strict=True))


def _is_signature_by(layer: dict[str, object], data: bytes, digest: str, key: PublicKey) -> bool:
    if layer.get("mediaType") != cosign.SIMPLE_SIGNING or cosign.signed_digest(data) != digest:
        return False
    signature = cosign.layer_signature(layer)
    return signature is not None and key.verifies(data, signature)


async def _plan_tag(  # noqa: PLR0913 - one storage tag, its context passed in
    client: RegistryClient,
    tag: Reference,
    *,
    subject: Subject,
    kind: str,
    wanted: Sequence[bytes],
    key: PublicKey,
    found: Manifest | None,
) -> StoragePlan:
    """What ``tag`` holds, and which of ``wanted`` still needs an entry by ``key``."""
    covered: set[bytes] = set()
    others = 0
    for layer, data in await read_entries(client, tag, found):
        if kind == "signature":
            mine = _is_signature_by(layer, data, subject.digest, key)
            covered.update(wanted if mine else [])
        else:
            opened = cosign.open_envelope(data)
            mine = opened is not None and opened.signed_by(key)
            if mine and opened is not None:
                covered.add(opened.statement)
        others += not mine
    missing = tuple(payload for payload in wanted if payload not in covered)
    return StoragePlan(tag, subject, kind, found, missing, others)


async def _plan_subject(
    client: RegistryClient, repository: Reference, subject: Subject, key: PublicKey
) -> list[StoragePlan]:
    digest = subject.digest
    signatures = cosign.storage_tag(repository, digest, cosign.SIGNATURE_SUFFIX)
    payload = cosign.simple_signing_payload(repository, digest)
    wanted = [(signatures, "signature", [payload])]
    if subject.statements:
        attestations = cosign.storage_tag(repository, digest, cosign.ATTESTATION_SUFFIX)
        wanted.append((attestations, "attestation", list(subject.statements)))
    found = await run_all([partial(client.find_manifest, tag) for tag, _, _ in wanted])
    return await run_all(
        [
            partial(
                _plan_tag,
                client,
                tag,
                subject=subject,
                kind=kind,
                wanted=payloads,
                key=key,
                found=manifest,
            )
            for (tag, kind, payloads), manifest in zip(wanted, found, strict=True)
        ]
    )


async def plan_signing(
    client: RegistryClient, repository: Reference, subjects: Sequence[Subject], signer: Signer
) -> SigningPlan:
    """Read every signature tag of ``subjects``: what this key already signed, what it will."""
    planned = await run_all(
        [partial(_plan_subject, client, repository, s, signer.public) for s in subjects]
    )
    return SigningPlan(signer, tuple(p for plans in planned for p in plans))


def _new_layer(plan: StoragePlan, payload: bytes, signer: Signer) -> cosign.Layer:
    if plan.kind == "signature":
        return cosign.signature_layer(payload, signer.sign(payload))
    facts = cosign.statement_facts(payload)
    predicate_type = facts[0] if facts else ""
    signature = signer.sign(cosign.pae(cosign.IN_TOTO, payload))
    return cosign.attestation_layer(payload, signature, predicate_type)


async def _upload(client: RegistryClient, tag: Reference, blobs: Sequence[bytes]) -> None:
    await run_all([partial(client.put_blob, tag, blob, look_first=False) for blob in blobs])


async def _write_tag(client: RegistryClient, plan: StoragePlan, signer: Signer) -> StoragePlan:
    """Add this key's missing entries to one tag, on top of what it holds right now."""
    added = [_new_layer(plan, payload, signer) for payload in plan.missing]
    layers = [*cosign.existing_layers(plan.found), *(layer.descriptor for layer in added)]
    config = cosign.storage_config(layers)
    # The last look at the tag rides along with the uploads, planned on what the check saw.
    latest, _ = await both(
        partial(client.find_manifest, plan.tag),
        partial(_upload, client, plan.tag, [config, *(layer.data for layer in added)]),
    )
    if (latest.digest if latest else None) != (plan.found.digest if plan.found else None):
        # Another signer wrote since the check: add to what it wrote, never replace it.
        made = dict(zip(plan.missing, added, strict=True))
        plan = await _plan_tag(
            client,
            plan.tag,
            subject=plan.subject,
            kind=plan.kind,
            wanted=plan.missing,
            key=signer.public,
            found=latest,
        )
        if not plan.missing:
            return plan
        added = [made[payload] for payload in plan.missing]
        layers = [*cosign.existing_layers(latest), *(layer.descriptor for layer in added)]
        config = cosign.storage_config(layers)
        await _upload(client, plan.tag, [config])
    raw = cosign.storage_manifest(config, layers)
    await client.put_manifest(plan.tag, raw, media_types.OCI_MANIFEST)
    stored = await client.head_manifest(plan.tag)
    written = compute_digest(raw)
    if stored is None or stored.digest != written:
        raise VerificationError(
            f"after signing, {plan.tag} holds {stored.digest if stored else 'nothing'}, "
            f"expected {written}: another signer wrote it in the same moment; run the "
            "release again (it adds only the signatures still missing)"
        )
    return replace(plan, found=latest)


async def write_signing(client: RegistryClient, plan: SigningPlan) -> list[str]:
    """Write every missing signature and attestation; a line for each tag written."""
    todo = [tag for tag in plan.tags if tag.missing]
    written = await run_all([partial(_write_tag, client, tag, plan.signer) for tag in todo])
    return [f"{tag.kind} {tag.tag.tag} by key {plan.key_id}" for tag in written if tag.missing]


def describe(plan: StoragePlan, key_id: str, *, done: bool) -> str:
    """One report line: which subject, by which key, and what else its tag holds."""
    subject = f"{plan.kind} of {plan.subject.what} {plan.subject.digest}"
    if not plan.missing:
        line = f"{subject}: already signed by key {key_id}, nothing written"
    else:
        verb = "signed" if done else "would be signed"
        line = f"{subject}: {verb} by key {key_id} in {plan.tag.tag}"
    if plan.others:
        line += f"; {plan.others} by other keys kept beside it"
    return line
