"""Sign a release by digest: look at its signature tags first, then add only what is missing.

The tags are read with the release's check, or (``assemble``, which knows the index's
digest last) beside the index's write; the signatures are made and their blobs uploaded
meanwhile (invisible until a manifest names them: ``draft_*``); each tag is looked at last
beside the index's verification and its write made on what it holds then (``settle``),
its manifest PUT once the index verified, and read back beside the release tags' last
look, before any tag moves. A ``.sig`` or ``.att`` tag is a set cosign appends to: a
signature already there by the same key is found and nothing is written (ECDSA signatures
differ on every run, so signing again would pile up copies); another key's signatures are
kept and the new one is added next to them. Nothing is ever removed from those tags.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from metrics_api.oci.concurrency import both, run_all
from metrics_api.oci.errors import VerificationError
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.signing import cosign_format as cosign
from metrics_api.oci.signing.keys import PublicKey
from metrics_api.oci.spec import media_types
from metrics_api.oci.spec.digest import compute_digest
from metrics_api.oci.spec.models import Descriptor, Manifest
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
    """A manifest to sign by digest, and the in-toto statements about it to attest.

    By key or keyless: a keyless bundle stored as a referrer names the whole descriptor.
    """

    what: str  # "index", "linux/amd64 image": how reports name it
    manifest: Descriptor
    statements: tuple[bytes, ...] = ()

    @property
    def digest(self) -> str:
        """The manifest's digest, which its signatures name."""
        return self.manifest.digest


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


@dataclass(frozen=True)
class PreparedTag:
    """One tag's write, ready: its blobs uploaded, its manifest made on what it holds."""

    plan: StoragePlan  # nothing missing: nothing to write
    raw: bytes  # the storage manifest to PUT, on what ``plan.found`` holds

    @property
    def digest(self) -> str:
        """The digest the tag must hold once written."""
        return compute_digest(self.raw)


@dataclass(frozen=True)
class Draft:
    """One tag's new entries, made and uploaded before the tag is looked at last.

    Made on what the tag was taken to hold; ``settle`` adds the same entries to what it
    holds at its last look, and uploads a configuration only when that differs.
    """

    tag: Reference
    made: dict[bytes, cosign.Layer]  # payload (or statement) -> its new entry
    config: bytes  # uploaded: the configuration of the assumed entries and ``made``


async def _draft(
    client: RegistryClient,
    tag: Reference,
    made: dict[bytes, cosign.Layer],
    found: Manifest | None,
) -> Draft:
    layers = [*cosign.existing_layers(found), *(layer.descriptor for layer in made.values())]
    config = cosign.storage_config(layers)
    await _upload(client, tag, [config, *(layer.data for layer in made.values())])
    return Draft(tag, made, config)


async def draft_signing(client: RegistryClient, plan: SigningPlan) -> list[Draft]:
    """Every missing entry made and uploaded, on what the check found (nothing visible)."""
    return await run_all(
        [
            partial(
                _draft,
                client,
                tag.tag,
                {payload: _new_layer(tag, payload, plan.signer) for payload in tag.missing},
                tag.found,
            )
            for tag in plan.tags
            if tag.missing
        ]
    )


async def draft_signatures(
    client: RegistryClient, repository: Reference, digests: Sequence[str], signer: Signer
) -> list[Draft]:
    """Each digest's signature made and uploaded before its tag is read, as if it had none.

    For a publish whose check reads the signature tags beside the index's write: most are
    new, and these uploads then save the round trips they would take after that read. For
    a tag that holds only this very signature they are the same blobs again; for one that
    also holds others' entries this configuration stays unreferenced (``settle`` makes one).
    """
    tags = [cosign.storage_tag(repository, d, cosign.SIGNATURE_SUFFIX) for d in digests]
    payloads = [cosign.simple_signing_payload(repository, d) for d in digests]
    return await run_all(
        [
            partial(
                _draft,
                client,
                tag,
                {payload: cosign.signature_layer(payload, signer.sign(payload))},
                None,
            )
            for tag, payload in zip(tags, payloads, strict=True)
        ]
    )


async def look_at_tags(client: RegistryClient, plan: SigningPlan) -> list[Manifest | None]:
    """Each tag still to write, looked at last (right before the index is verified)."""
    return await run_all(
        [partial(client.find_manifest, tag.tag) for tag in plan.tags if tag.missing]
    )


async def _settle_tag(
    client: RegistryClient,
    plan: StoragePlan,
    latest: Manifest | None,
    draft: Draft | None,
    signer: Signer,
) -> PreparedTag:
    if (latest.digest if latest else None) != (plan.found.digest if plan.found else None):
        # Another signer wrote since the check: read what it holds now, add to that.
        plan = await _plan_tag(
            client,
            plan.tag,
            subject=plan.subject,
            kind=plan.kind,
            wanted=plan.missing,
            key=signer.public,
            found=latest,
        )
    made = dict(draft.made) if draft else {}
    fresh = {p: _new_layer(plan, p, signer) for p in plan.missing if p not in made}
    made.update(fresh)
    added = [made[payload] for payload in plan.missing]
    layers = [*cosign.existing_layers(latest), *(layer.descriptor for layer in added)]
    config = cosign.storage_config(layers)
    uploads = [layer.data for layer in fresh.values()]
    if plan.missing and (draft is None or config != draft.config):
        uploads.append(config)
    await _upload(client, plan.tag, uploads)
    return PreparedTag(plan, cosign.storage_manifest(config, layers))


async def settle_signing(
    client: RegistryClient,
    plan: SigningPlan,
    drafts: Sequence[Draft],
    latest: Sequence[Manifest | None],
) -> list[PreparedTag]:
    """Each tag's write made on what it held at its last look, with the drafts' entries.

    A draft made on what the tag still holds is used as it is: no request.
    """
    by_tag = {str(draft.tag): draft for draft in drafts}
    todo = [tag for tag in plan.tags if tag.missing]
    return await run_all(
        [
            partial(_settle_tag, client, tag, seen, by_tag.get(str(tag.tag)), plan.signer)
            for tag, seen in zip(todo, latest, strict=True)
        ]
    )


async def commit_signing(client: RegistryClient, prepared: list[PreparedTag]) -> None:
    """PUT every prepared storage manifest at once (after the index verified)."""
    await run_all(
        [
            partial(client.put_manifest, tag.plan.tag, tag.raw, media_types.OCI_MANIFEST)
            for tag in prepared
            if tag.plan.missing
        ]
    )


async def confirm_signing(client: RegistryClient, prepared: list[PreparedTag]) -> None:
    """Read every written tag back: each must hold exactly what was PUT."""
    written = [tag for tag in prepared if tag.plan.missing]
    stored = await run_all([partial(client.head_manifest, tag.plan.tag) for tag in written])
    for tag, found in zip(written, stored, strict=True):
        if found is None or found.digest != tag.digest:
            raise VerificationError(
                f"after signing, {tag.plan.tag} holds {found.digest if found else 'nothing'}, "
                f"expected {tag.digest}: another signer wrote it in the same moment; run the "
                "release again (it adds only the signatures still missing)"
            )


def signed_lines(plan: SigningPlan, prepared: list[PreparedTag]) -> list[str]:
    """A line for each tag written."""
    return [
        f"{tag.plan.kind} {tag.plan.tag.tag} by key {plan.key_id}"
        for tag in prepared
        if tag.plan.missing
    ]


async def write_signing(client: RegistryClient, plan: SigningPlan) -> list[str]:
    """Write every missing signature and attestation, step by step; a line per tag."""
    drafts, latest = await both(
        partial(draft_signing, client, plan), partial(look_at_tags, client, plan)
    )
    prepared = await settle_signing(client, plan, drafts, latest)
    await commit_signing(client, prepared)
    await confirm_signing(client, prepared)
    return signed_lines(plan, prepared)


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
