"""The three jobs the command line and the Dagger module run: resolve, assemble, verify.

They take the text users type (``linux/arm64=REGISTRY/REPO:TAG``), so every entry point
parses and reports the same way.
"""

from collections.abc import Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING

from metrics_api.oci.concurrency import beside, both, run_all
from metrics_api.oci.errors import InvalidInputError, Remedy, ResolutionError
from metrics_api.oci.inputs import VariantRequest, one_per_platform, parse_pinned, parse_target
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.release.assemble import build_index, index_annotations
from metrics_api.oci.release.assembly_reports import assembly_report, variant_report
from metrics_api.oci.release.publish import publish_index
from metrics_api.oci.release.reports import AssembleReport, VariantReport, VerificationReport
from metrics_api.oci.release.resolve import ResolvedVariant, resolve_variant
from metrics_api.oci.release.tags import TagPlan
from metrics_api.oci.release.verify import (
    Ledger,
    label_own_ledger,
    verify_index,
)
from metrics_api.oci.spec.platform import Platform, parse_platform
from metrics_api.oci.spec.reference import Reference

if TYPE_CHECKING:  # signing, keyless and rebuild code is imported by the jobs that use it
    from metrics_api.oci.checks import Check
    from metrics_api.oci.release.rebuild import PlatformCheck, RebuildReport, RecordedBuild
    from metrics_api.oci.signing.bundle_check import KeylessVerification
    from metrics_api.oci.signing.keyless_store import KeylessSigning
    from metrics_api.oci.signing.keys import PublicKey
    from metrics_api.oci.signing.store import Signer


async def resolve(
    client: RegistryClient, reference: str, platform: Platform | str
) -> VariantReport:
    """Resolve one variant reference to its platform image manifest (``platform``: or its text)."""
    source = parse_pinned(reference, "the variant")
    wanted = parse_platform(platform) if isinstance(platform, str) else platform
    variant = await resolve_variant(client, source, wanted)
    return variant_report(variant)


async def _resolve(
    client: RegistryClient, request: VariantRequest, keep_attestations: bool = False
) -> ResolvedVariant:
    """Resolve a variant and hold it to its ledger line.

    The line may name the image or the index it was unwrapped from: ``docker push`` of a
    Docker 29 build prints the digest of that wrapper index.
    """
    variant = await resolve_variant(
        client, request.reference, request.platform, attestations=keep_attestations
    )
    expected = request.expected_digest
    if expected and expected not in (variant.manifest.digest, variant.wrapper_digest):
        found = f"the image manifest {variant.manifest.digest}" + (
            f" in the wrapper index {variant.wrapper_digest} (neither is {expected})"
            if variant.wrapper_digest
            else ""
        )
        advice = (
            "the reference and the ledger disagree: check which digest was pushed"
            if request.reference.digest
            else "the tag moved since: assemble from the digest"
        )
        raise ResolutionError(
            f"variant {request.reference} for {request.platform}: expected {expected}, "
            f"recorded when it was pushed, found {found}; {advice}"
        )
    return variant


async def assemble(  # noqa: PLR0913 - mirrors the command line's options
    client: RegistryClient,
    target: str,
    requests: Sequence[VariantRequest],
    *,
    annotations: Mapping[str, str] | None = None,
    source_date_epoch: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    keep_attestations: bool = False,
    signer: "Signer | None" = None,
    keyless: "KeylessSigning | None" = None,
) -> AssembleReport:
    """Resolve the variants, build the index, publish it safely and verify it.

    ``keep_attestations``: the index carries each variant's attestation manifests too.
    ``signer``, ``keyless``: the index and each image are signed (their statements
    attested) by key, keyless or both, after the index verified, before the tag moves.
    """
    target_ref = parse_target(target)
    job = partial(
        _assemble,
        client,
        target_ref,
        requests,
        annotations=annotations,
        source_date_epoch=source_date_epoch,
        force=force,
        dry_run=dry_run,
        keep_attestations=keep_attestations,
        signer=signer,
        keyless=keyless,
    )
    if signer is None or dry_run:
        return await job()
    from metrics_api.oci.release.signatures import connections_to_sign  # noqa: PLC0415

    # Each signature's uploads and its tag's look go beside the index's write, each on a
    # connection of its own: opened while the variants resolve, none waits for a handshake.
    ahead = partial(client.preconnect, target_ref.host, connections_to_sign(len(requests)))
    return await beside(job, ahead)


async def _assemble(  # noqa: PLR0913 - ``assemble``'s options
    client: RegistryClient,
    target_ref: Reference,
    requests: Sequence[VariantRequest],
    *,
    annotations: Mapping[str, str] | None,
    source_date_epoch: str | None,
    force: bool,
    dry_run: bool,
    keep_attestations: bool,
    signer: "Signer | None",
    keyless: "KeylessSigning | None",
) -> AssembleReport:
    """``assemble``, once its target is parsed."""
    if keyless:
        from metrics_api.oci.signing.keyless_store import preflight  # noqa: PLC0415

        await preflight(keyless)
    # Where the tag points now is independent of the variants: ask while they resolve.
    current, variants = await both(
        partial(client.head_manifest, target_ref),
        partial(
            run_all,
            [partial(_resolve, client, request, keep_attestations) for request in requests],
        ),
    )
    index = build_index(
        variants,
        annotations=index_annotations(annotations or {}, source_date_epoch),
    )
    expected = [request.expected_digest for request in requests]
    previous = current.digest if current else None
    unread = None
    if signer is not None or keyless is not None:
        from metrics_api.oci.release.signatures import UnreadSigning  # noqa: PLC0415 - when signing

        unread = UnreadSigning(client, target_ref, index, variants, signer, keyless)
    if dry_run:
        signing = await unread.read() if unread else None
        return assembly_report(
            target_ref, index, variants, expected, client.stats, previous=previous, signing=signing
        )
    release = TagPlan(target_ref, index, previous)
    # Its signature tags are read beside the index's write.
    outcome = await publish_index(client, index, variants, release, force=force, signing=unread)
    return assembly_report(
        target_ref,
        index,
        variants,
        expected,
        client.stats,
        previous=previous,
        outcome=outcome,
        signing=outcome.signing,
    )


async def verify(  # noqa: PLR0913 - mirrors the command line's options
    client: RegistryClient,
    target: str,
    ledger: Ledger,
    *,
    require_provenance: bool = False,
    require_sbom: bool = False,
    public_keys: "Sequence[PublicKey]" = (),
    keyless: "KeylessVerification | None" = None,
) -> VerificationReport:
    """Verify an index someone published against a digest ledger (one line per platform).

    ``require_provenance`` / ``require_sbom``: a platform without exactly one SLSA
    provenance / SPDX SBOM attestation about its image fails the verification (otherwise
    it is only reported). ``public_keys``: the index and each image must carry a signature
    by one of them, and each image with provenance or an SBOM the signed statement. With
    keys and no ledger, as a consumer verifies, the signed index's own entries stand for it.
    ``keyless``: the same, with Sigstore bundles by an identity instead of key signatures.
    """
    one_per_platform(
        [platform for platform, _ in ledger], "ledger line", [str(p) for p, _ in ledger]
    )
    if not ledger and not public_keys and keyless is None:
        raise InvalidInputError(
            "expected at least one PLATFORM=DIGEST expectation, or a public key or a "
            "certificate identity to verify the index by, found none",
            remedy=Remedy.LEDGER,
        )
    reference = parse_pinned(target, "the index to verify")
    by_key = not ledger
    report = await verify_index(
        client,
        reference,
        None if by_key else ledger,
        require_provenance=require_provenance,
        require_sbom=require_sbom,
    )
    if by_key:
        report = label_own_ledger(report)
    if report.digest is None:
        return report
    digest, entries, sbom_images = report.digest, report.entries, report.sbom_images

    async def key_checks() -> "list[Check]":
        if not public_keys:
            return []
        from metrics_api.oci.signing.check import check_release_signatures  # noqa: PLC0415

        return await check_release_signatures(
            client, reference, digest, entries, public_keys, sbom_images=sbom_images
        )

    async def identity_checks() -> "list[Check]":
        if keyless is None:
            return []
        from metrics_api.oci.signing.bundle_check import check_release_bundles  # noqa: PLC0415

        return await check_release_bundles(
            client, reference, digest, entries, keyless, sbom_images=sbom_images
        )

    # Independent reads (and keyless fetches its trusted root): side by side, in this order.
    keyed, bundled = await both(key_checks, identity_checks)
    signed = keyed + bundled
    checks = [*report.checks, *signed]
    return report.model_copy(
        update={"checks": checks, "ok": report.ok and all(check.ok for check in signed)}
    )


async def compare(
    client: RegistryClient, target: str, rebuilt: Sequence[VariantRequest]
) -> "RebuildReport":
    """Compare each platform of a published release with an image someone rebuilt.

    Each platform's provenance must record an epoch (a release without one cannot be
    reproduced byte for byte); the report says, per platform, same or what differs.
    """
    from metrics_api.oci.release.rebuild import (  # noqa: PLC0415
        PlatformCheck,
        compare_images,
        rebuild_report,
        recorded_builds,
    )

    reference = parse_pinned(target, "the release")
    recorded = await recorded_builds(client, reference)
    published = [parse_platform(record.platform) for record in recorded]
    for request in rebuilt:
        if not any(platform.matches(request.platform) for platform in published):
            raise InvalidInputError(
                f"expected each rebuilt image to be for a platform of {target}, found "
                f"{request.platform}; it has {', '.join(map(str, published)) or 'none'}"
            )

    async def one(record: "RecordedBuild") -> "PlatformCheck":
        check = PlatformCheck(platform=record.platform, published=record.image)
        mine = parse_platform(record.platform)
        request = next((r for r in rebuilt if mine.matches(r.platform)), None)
        if record.problem:
            return check.model_copy(update={"problem": record.problem})
        if request is None:
            return check.model_copy(update={"problem": "no rebuilt image was given for it"})
        return await compare_images(
            client, reference.with_digest(record.image), request.reference, record.platform
        )

    return rebuild_report(target, await run_all([partial(one, r) for r in recorded]))
