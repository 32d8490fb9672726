"""Publish an index safely: children first, the index by digest, verify, and only then tag.

A registry may reject an index whose children live in another repository, so each child
is made present in the target repository first (mounted across repositories, copied across
registries), with its kept attestations and the artifacts that refer to it (OCI 1.1
referrers: signatures, SBOMs). The release tag is the last thing written, and never moved
without ``force``.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

import anyio

from metrics_api.oci.checks import Check
from metrics_api.oci.concurrency import both, run_all
from metrics_api.oci.errors import OciError, VerificationError, with_note
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.release.reports import VerificationReport
from metrics_api.oci.release.resolve import ResolvedVariant
from metrics_api.oci.release.tags import (
    TagPlan,
    digest_at,
    look,
    refuse_changes,
    refuse_moves,
    write_tag,
    write_tags,
)
from metrics_api.oci.release.verify import Ledger, check_children, verify_index
from metrics_api.oci.spec import media_types
from metrics_api.oci.spec.models import Descriptor, ImageIndex, ImageManifest, Manifest
from metrics_api.oci.spec.reference import Reference

if TYPE_CHECKING:
    from metrics_api.oci.release.signatures import ReleaseSigning, UnreadSigning
    from metrics_api.oci.signing.store import PreparedTag


async def _ensure_blob(
    client: RegistryClient, target: Reference, source: Reference, digest: str
) -> str:
    if await client.blob_size(target, digest) is not None:
        return "present"
    if source.registry == target.registry and await client.mount_blob(target, digest, source):
        return "mounted"
    from metrics_api.oci.registry.blobcopy import copy_blob  # noqa: PLC0415 - cross-registry only

    await copy_blob(client, source, target, digest)
    return "copied"


async def _ensure_manifest(
    client: RegistryClient,
    target: Reference,
    source: Reference,
    manifest: Manifest,
    blobs: Sequence[str],
) -> str:
    """Make ``manifest`` and its blobs present in the target repository, byte for byte."""
    pinned = target.with_digest(manifest.digest)
    if await client.head_manifest(pinned) is not None:
        return "present"
    actions = await run_all(
        [partial(_ensure_blob, client, target, source, digest) for digest in dict.fromkeys(blobs)]
    )
    await client.put_manifest(pinned, manifest.raw, manifest.media_type)
    return "copied" if "copied" in actions else "mounted"


async def ensure_child(client: RegistryClient, target: Reference, variant: ResolvedVariant) -> str:
    """Make the variant's image manifest present in the target repository, byte for byte."""
    if variant.source.same_repository(target):
        return "present"
    blobs = variant.image.blob_digests
    return await _ensure_manifest(client, target, variant.source, variant.manifest, blobs)


async def ensure_attestations(
    client: RegistryClient, target: Reference, variant: ResolvedVariant
) -> list[str]:
    """Make the variant's kept attestation manifests present there too, like any child."""
    if variant.source.same_repository(target):
        return ["present"] * len(variant.attestations)
    return await run_all(
        [
            partial(_ensure_manifest, client, target, variant.source, kept.manifest, kept.blobs)
            for kept in variant.attestations
        ]
    )


# Referrers of referrers (a signature of an SBOM) are copied too, this many levels deep.
REFERRER_DEPTH = 3


async def _ensure_referrer(
    client: RegistryClient, target: Reference, source: Reference, referrer: Descriptor, depth: int
) -> list[tuple[str, str]]:
    if referrer.media_type not in media_types.IMAGE_MANIFESTS:
        return [(referrer.digest, f"left out: a {referrer.media_type}")]
    manifest = await client.get_manifest(source.with_digest(referrer.digest))
    document = manifest.document
    assert isinstance(document, ImageManifest)  # noqa: S101 - its media type says so
    action = await _ensure_manifest(client, target, source, manifest, document.blob_digests)
    further = await ensure_referrers(client, target, source, referrer.digest, depth + 1)
    return [(referrer.digest, action), *further]


async def ensure_referrers(
    client: RegistryClient, target: Reference, source: Reference, subject: str, depth: int = 0
) -> list[tuple[str, str]]:
    """Copy the OCI 1.1 referrers of ``subject`` (signatures, SBOMs) along with it.

    Nothing when the source does not serve the referrers API. A target that does not
    serve it gets them listed in its fallback tag, added to what that holds. Each
    (digest, action).
    """
    if depth >= REFERRER_DEPTH:
        return []
    from metrics_api.oci.registry.referrers import (  # noqa: PLC0415 - copied images only
        add_to_fallback,
        fallback_tag,
        find_referrers,
        list_referrers,
    )

    listed = await list_referrers(client, source, subject)
    copied = await run_all(
        [partial(_ensure_referrer, client, target, source, item, depth) for item in listed]
    )
    pairs = [pair for pairs in copied for pair in pairs]
    made = [item for item in listed if item.media_type in media_types.IMAGE_MANIFESTS]
    if not made or await find_referrers(client, target, subject) is not None:
        return pairs
    # The target has no referrers API: its fallback tag is where clients look for them.
    tag = fallback_tag(target, subject)
    await add_to_fallback(client, tag, made)
    added = {item.digest for item in made}
    return [(d, f"{how}, listed in {tag.tag}" if d in added else how) for d, how in pairs]


async def ensure_variant(
    client: RegistryClient, target: Reference, variant: ResolvedVariant
) -> tuple[str, list[str]]:
    """Make a variant present in the target repository, with what belongs to it.

    Its image, its kept attestations, and the referrers of its image when it came from
    elsewhere. Returns the image's action, and a line for each thing made present.
    """

    async def image() -> tuple[str, list[tuple[str, str]]]:
        action = await ensure_child(client, target, variant)
        if action == "present":
            return action, []
        return action, await ensure_referrers(
            client, target, variant.source, variant.manifest.digest
        )

    (action, referred), kept = await both(
        image, partial(ensure_attestations, client, target, variant)
    )
    lines = [f"{variant.declared} image {variant.manifest.digest} ({action})"]
    lines.extend(
        f"{variant.declared} attestation {attestation.manifest.digest} ({how})"
        for attestation, how in zip(variant.attestations, kept, strict=True)
    )
    lines.extend(f"{variant.declared} referrer {digest} ({how})" for digest, how in referred)
    return action, lines


def ledger_of(variants: Sequence[ResolvedVariant]) -> Ledger:
    """The digest ledger: each declared platform and the image digest recorded for it."""
    return [(variant.declared, variant.manifest.digest) for variant in variants]


async def publish_image(
    client: RegistryClient,
    variant: ResolvedVariant,
    plan: TagPlan,
    *,
    force: bool,
    why: Sequence[str] = (),
) -> TagPlan:
    """Copy one image into the tag's repository, then point the tag at it.

    A write without an index (one variant of the split-runner flow) passes the same tag
    checks as a release: refused before any write when the tag would move without
    ``force``, looked at again right before its PUT, read back after it. Returns the tag
    as it stood at that last look.
    """
    refuse_moves([plan], force, why)
    if plan.action == "unchanged":  # an identical re-run writes nothing
        return plan
    await ensure_variant(client, plan.reference, variant)
    return await write_tag(client, plan, await digest_at(client, plan.reference), force)


@dataclass(frozen=True)
class PublishOutcome:
    """What publishing did to the registry, in the order it did it."""

    tag_action: str  # created / unchanged / moved
    previous_digest: str | None
    child_actions: list[str]
    verification: VerificationReport
    written: list[str]
    variant_tags: list[TagPlan]  # each as it stood right before its write
    keyless: list[str] = field(default_factory=list)  # what keyless signing found and did
    signing: "ReleaseSigning | None" = None  # what the signature tags held, as read


async def publish_index(  # noqa: PLR0913 - the plans come from the caller's check
    client: RegistryClient,
    index: Manifest,
    variants: Sequence[ResolvedVariant],
    release: TagPlan,
    variant_tags: Sequence[TagPlan] = (),
    *,
    force: bool = False,
    signing: "ReleaseSigning | UnreadSigning | None" = None,
) -> PublishOutcome:
    """Write children and the index by digest, verify, sign, then the tags, the release last.

    The caller checked the tags (``plan_tags``, ``refuse_moves``) and, with ``signing``,
    read the signature tags before calling or left them to read beside the index's write
    (``UnreadSigning``): nothing a consumer can see changes until the index verified
    against the ledger, and no tag moves before its signatures are stored.
    """
    target = release.reference
    tags = [*variant_tags, release]
    refuse_moves(tags, force)
    pinned = target.with_digest(index.digest)
    configs = {variant.image.config.digest: variant.config for variant in variants}
    looks = partial(run_all, [partial(look, client, plan.reference) for plan in tags])
    if all(plan.action == "unchanged" for plan in tags):  # an identical re-run writes nothing
        verification = partial(verify_index, client, pinned, ledger_of(variants), configs=configs)
        report, seen = await both(verification, looks)
        _require_verified(report, release)
        refuse_changes(tags, seen, force)  # before signing writes: the report is the truth
        read, stored_first, found = await _sign(client, signing)
        tagged = await _write_tags(client, tags, seen, force, stored_first)
        return PublishOutcome(
            tagged[-1].action,
            tagged[-1].current,
            ["present"] * len(variants),
            _tagged(report, release),
            [*stored_first, *_tag_lines(tagged)],
            tagged[:-1],
            found,
            read,
        )
    # The tags' last look rides along with the read-back, unless signing is known to write
    # (its tags read by the check): then it follows the signatures' write.
    look_late = _writes_known(signing)
    stored = anyio.Event()

    async def store_and_verify() -> tuple[
        list[str], list[str], VerificationReport, list[str | OciError | None] | None
    ]:
        outcomes = await run_all([partial(ensure_variant, client, target, v) for v in variants])
        document = index.document
        assert isinstance(document, ImageIndex)  # noqa: S101 - build_index makes an index
        # The children are in the repository now: check them while the index is stored, so
        # the verification's read-back is all that is left before the tags.
        _, children = await both(
            partial(client.put_manifest, pinned, index.raw, index.media_type),
            partial(check_children, client, pinned, document, just_pushed=True, configs=configs),
        )
        stored.set()
        verification = partial(
            verify_index,
            client,
            pinned,
            ledger_of(variants),
            just_pushed=True,
            pushed=index,
            children=children,
            configs=configs,
        )
        report, latest = (
            await both(verification, looks) if not look_late else (await verification(), None)
        )
        return [a for a, _ in outcomes], [w for _, lines in outcomes for w in lines], report, latest

    # A signature's blobs are invisible until a manifest names them: they are made and
    # uploaded while the children are copied and the index stored, named once it verified.
    (child_actions, written, report, latest), (read, prepared) = await both(
        store_and_verify, partial(_ready, client, signing, stored)
    )
    written.append(f"index {index.digest} by digest")
    _require_verified(report, release)
    keyless: list[str] = []
    signed: list[str] = []
    if read is not None and read.writes:
        from metrics_api.oci.release import signatures  # noqa: PLC0415 - only when signing
        from metrics_api.oci.signing.store import confirm_signing  # noqa: PLC0415

        done = await signatures.commit_release_signing(client, read, prepared)
        signed, keyless = done.written, done.keyless
        latest, _ = await both(looks, partial(confirm_signing, client, prepared))
    if latest is None:  # signing was to write, but another run signed it all meanwhile
        latest = await looks()
    tagged = await _write_tags(client, tags, latest, force, signed)
    return PublishOutcome(
        tagged[-1].action,
        tagged[-1].current,
        child_actions,
        _tagged(report, release),
        [*written, *signed, *_tag_lines(tagged)],
        tagged[:-1],
        keyless,
        read,
    )


async def _write_tags(
    client: RegistryClient,
    tags: Sequence[TagPlan],
    latest: Sequence[str | OciError | None],
    force: bool,
    signed: Sequence[str],
) -> list[TagPlan]:
    """The tags written; a failure also names the signatures stored before it."""
    try:
        return await write_tags(client, tags, latest, force)
    except OciError as error:
        if not signed:
            raise
        raise with_note(error, f"stored before the tags: {', '.join(signed)}") from error


def _tag_lines(tagged: Sequence[TagPlan]) -> list[str]:
    return [
        f"tag {plan.reference} ({plan.action})" for plan in tagged if plan.action != "unchanged"
    ]


def _writes_known(signing: "ReleaseSigning | UnreadSigning | None") -> bool:
    """Whether signing is known, before the index is stored, to write after it verified."""
    if signing is None:
        return False
    from metrics_api.oci.release.signatures import ReleaseSigning  # noqa: PLC0415

    return isinstance(signing, ReleaseSigning) and signing.writes


async def _ready(
    client: RegistryClient, signing: "ReleaseSigning | UnreadSigning | None", stored: anyio.Event
) -> tuple["ReleaseSigning | None", list["PreparedTag"]]:
    if signing is None:
        return None, []
    from metrics_api.oci.release.signatures import ready_release_signing  # noqa: PLC0415

    return await ready_release_signing(client, signing, stored)


async def _sign(
    client: RegistryClient, signing: "ReleaseSigning | UnreadSigning | None"
) -> tuple["ReleaseSigning | None", list[str], list[str]]:
    """What the signature tags held, what signing wrote, and keyless signing's report lines."""
    if signing is None:
        return None, [], []
    from metrics_api.oci.release.signatures import UnreadSigning, write_release_signing  # noqa: PLC0415

    read = await signing.read() if isinstance(signing, UnreadSigning) else signing
    if read is None:
        return None, [], []
    done = await write_release_signing(client, read)
    return read, done.written, done.keyless


def _require_verified(report: VerificationReport, release: TagPlan) -> None:
    if not report.ok:
        failed = "; ".join(f"{check.name}: {check.detail}" for check in report.failures())
        raise VerificationError(
            f"the index {report.reference} did not verify, so no tag was written and "
            f"{release.reference} was left as it was ({release.current or 'absent'}): {failed}"
        )


def _tagged(report: VerificationReport, release: TagPlan) -> VerificationReport:
    """The verification with the release tag's read-back as its last check."""
    check = Check(name="tag", ok=True, detail=f"{release.reference} points at {report.digest}")
    return report.model_copy(
        update={"reference": str(release.reference), "checks": [*report.checks, check]}
    )
