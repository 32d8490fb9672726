"""Publish an index safely: children first, the index by digest, verify, and only then tag.

A registry may reject an index whose children live in another repository, so each child
is made present in the target repository first (mounted across repositories, copied across
registries). The release tag is the last thing written, and never moved without ``force``.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from metrics_api.oci.client import RegistryClient
from metrics_api.oci.concurrency import both, run_all
from metrics_api.oci.errors import Remedy, TagConflictError, VerificationError
from metrics_api.oci.models import Descriptor, Manifest
from metrics_api.oci.reference import Reference
from metrics_api.oci.reports import Check, VerificationReport
from metrics_api.oci.resolve import ResolvedVariant
from metrics_api.oci.verify import Ledger, verify_index


@dataclass(frozen=True)
class PublishOutcome:
    """What publishing did to the registry."""

    tag_action: str  # created / unchanged / moved
    previous_digest: str | None
    child_actions: list[str]
    verification: VerificationReport


async def _ensure_blob(
    client: RegistryClient, target: Reference, source: Reference, digest: str
) -> str:
    if await client.blob_size(target, digest) is not None:
        return "present"
    if source.registry == target.registry and await client.mount_blob(target, digest, source):
        return "mounted"
    await client.upload_blob(target, digest, await client.get_blob(source, digest))
    return "copied"


async def ensure_child(client: RegistryClient, target: Reference, variant: ResolvedVariant) -> str:
    """Make the variant's image manifest present in the target repository, byte for byte."""
    if variant.source.same_repository(target):
        return "present"
    pinned = target.with_digest(variant.manifest.digest)
    if await client.head_manifest(pinned) is not None:
        return "present"
    blobs = [variant.image.config.digest, *(layer.digest for layer in variant.image.layers)]
    actions = await run_all(
        [
            partial(_ensure_blob, client, target, variant.source, digest)
            for digest in dict.fromkeys(blobs)
        ]
    )
    await client.put_manifest(pinned, variant.manifest.raw, variant.manifest.media_type)
    return "copied" if "copied" in actions else "mounted"


def ledger_of(variants: Sequence[ResolvedVariant]) -> Ledger:
    """The digest ledger: each declared platform and the image digest recorded for it."""
    return [(variant.declared, variant.manifest.digest) for variant in variants]


async def _digest_at(client: RegistryClient, target: Reference) -> str | None:
    found = await client.head_manifest(target)
    return found.digest if found else None


async def publish_index(  # noqa: PLR0913 - current comes from the caller's concurrent look-up
    client: RegistryClient,
    target: Reference,
    index: Manifest,
    variants: Sequence[ResolvedVariant],
    current: Descriptor | None,
    *,
    force: bool = False,
) -> PublishOutcome:
    """Push ``index`` to ``target`` (a tag) only once it verified against the ledger.

    ``current`` is what the tag pointed at when the job started (the caller looked it up
    while resolving the variants).
    """
    previous = current.digest if current else None
    _refuse_move(target, previous, index.digest, force)
    child_actions = await run_all([partial(ensure_child, client, target, v) for v in variants])
    pinned = target.with_digest(index.digest)
    # The tag may have moved while we worked: look again, alongside the index PUT.
    _, latest = await both(
        partial(client.put_manifest, pinned, index.raw, index.media_type),
        partial(client.head_manifest, target),
    )
    configs = {variant.image.config.digest: variant.config for variant in variants}
    report = await verify_index(
        client, pinned, ledger_of(variants), just_pushed=True, pushed=index, configs=configs
    )
    if not report.ok:
        failed = "; ".join(f"{check.name}: {check.detail}" for check in report.failures())
        raise VerificationError(
            f"the index {pinned} did not verify, so {target} was left as it was "
            f"({previous or 'absent'}): {failed}"
        )
    action, tagged = "unchanged", previous
    if previous != index.digest:
        _refuse_move(target, latest.digest if latest else None, index.digest, force)
        confirmed = await client.put_manifest(target, index.raw, index.media_type)
        action = "moved" if previous else "created"
        # The answer to the tag PUT names what the tag now holds; read back only if it did not.
        tagged = index.digest if confirmed else await _digest_at(client, target)
    tag_check = Check(
        name="tag",
        ok=tagged == index.digest,
        detail=f"{target} points at {tagged or 'nothing'}",
    )
    report = report.model_copy(
        update={"reference": str(target), "checks": [*report.checks, tag_check], "ok": tag_check.ok}
    )
    if not tag_check.ok:
        raise VerificationError(
            f"after tagging, {target} points at {tagged or 'nothing'}, expected "
            f"{index.digest}; another writer moved it: re-run to check again"
        )
    return PublishOutcome(
        tag_action=action,
        previous_digest=previous,
        child_actions=child_actions,
        verification=report,
    )


def _refuse_move(target: Reference, current: str | None, wanted: str, force: bool) -> None:
    if current and current != wanted and not force:
        raise TagConflictError(
            f"{target} already points at {current}, expected it to be absent or to be "
            f"{wanted} (this index); it was left unchanged",
            remedy=Remedy.FORCE,
        )
