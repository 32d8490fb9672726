"""The release job without the engine: plan, check, then write.

1. Plan: build every variant and push it to a throwaway staging registry, which gives each
   variant's exact image digest without touching the target; every build must succeed.
2. Check: read the target (reachable, credentials accepted) and every tag the release
   writes; refuse before any write when one would move without ``force``.
3. Write: copy the images into the target repository by digest, push the index by digest,
   verify it against the digests staged, then the ``VERSION-ARCH`` tags, the release last.

With ``provenance`` (on by default in the module), each staged image gets an SLSA
provenance statement, and with ``sbom`` (also on by default) an SPDX SBOM statement; both
go into one attestation manifest staged beside the image and carried like Docker's
(release/attestation_manifests.py): written with its image, before the index, checked
with it, and reused from the target when the target already says this very build.

The Dagger module hands in a ``stage`` callable that builds and pushes one variant to its
in-pipeline registry; tests hand in one that pushes real images with buildah. Everything
after the staging is the core's, so it is the same in both. A dry run stops after the check.
"""

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial

from metrics_api.oci.concurrency import both, run_all
from metrics_api.oci.errors import InvalidInputError, OciError, given_as
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.registry.session import Settings, open_client
from metrics_api.oci.release.assemble import build_index, index_annotations
from metrics_api.oci.release.assembly_reports import assembly_report
from metrics_api.oci.release.attestation_manifests import (
    Statement,
    stage_attestations,
    staged_image,
    wrapper_index,
)
from metrics_api.oci.release.normalise import Normalised, parse_epoch
from metrics_api.oci.release.provenance import (
    BuildFacts,
    Reuse,
    published_index,
    reuse_published,
    statement,
    subject_name,
)
from metrics_api.oci.release.publish import publish_image, publish_index
from metrics_api.oci.release.release_reports import SAME_INPUTS, ReleasedVariant, ReleaseReport
from metrics_api.oci.release.reproducible import make_reproducible
from metrics_api.oci.release.resolve import ResolvedVariant, resolve_variant
from metrics_api.oci.release.sbom import (
    Scan,
    normalised_document,
    sbom_statement,
)
from metrics_api.oci.release.signatures import plan_release_signing
from metrics_api.oci.release.statements import SLSA_V1, SPDX_DOCUMENT
from metrics_api.oci.release.tags import plan_tags, refuse_moves
from metrics_api.oci.signing.keyless_store import KeylessSigning, preflight
from metrics_api.oci.signing.store import Signer
from metrics_api.oci.spec.digest import validate_digest
from metrics_api.oci.spec.platform import Platform, parse_platform
from metrics_api.oci.spec.reference import Reference, parse_reference

DEFAULT_VARIANTS = ("linux/amd64=app-amd64", "linux/arm64=app-arm64")


@dataclass(frozen=True)
class VariantPlan:
    """One row of the variant table: a platform, its source folder and its Dockerfile."""

    platform: Platform
    directory: str
    dockerfile: str = "Dockerfile"


def parse_variant_table(entries: Sequence[str], option: str) -> list[VariantPlan]:
    """Parse ``PLATFORM=DIR[:DOCKERFILE]`` rows; a third platform is one more row.

    ``option``: the front end's name for a row, which errors name.
    """
    plans = []
    for entry in entries:
        with given_as(option, entry):
            plans.append(_variant_plan(entry))
    if not plans:
        raise InvalidInputError(
            f"expected at least one {option} row (PLATFORM=DIR[:DOCKERFILE]), found none"
        )
    return plans


def _variant_plan(entry: str) -> VariantPlan:
    platform, sep, location = entry.partition("=")
    directory, _, dockerfile = location.partition(":")
    if not sep:
        raise _malformed_row("no '='")
    if not platform:
        raise _malformed_row("no platform before '='")
    if not directory:
        raise _malformed_row("no folder after '='")
    return VariantPlan(parse_platform(platform), directory, dockerfile or "Dockerfile")


def _malformed_row(found: str) -> InvalidInputError:
    return InvalidInputError(
        f"expected PLATFORM=DIR[:DOCKERFILE] (linux/arm64=app-arm64), found {found}"
    )


def variant_tag(version: str, platform: Platform) -> str:
    """The per-platform tag: ``v2.0.0-arm64`` (``v2.0.0-arm-v7`` when there is a variant)."""
    suffix = platform.architecture + (f"-{platform.variant}" if platform.variant else "")
    return f"{version}-{suffix}"


@dataclass(frozen=True)
class Staging:
    """The throwaway registry variants are first pushed to.

    ``push_host`` is the name the build tool pushes to and ``host`` the one this process
    reaches it by (they differ for a registry service inside Dagger).
    """

    push_host: str
    host: str
    repository: str = "staging/metrics-api"


Stage = Callable[[VariantPlan, str], Awaitable[str]]
# The facts of one variant's build, given its plan and the staged image digest.
Provenance = Callable[[VariantPlan, str], Awaitable[BuildFacts]]
# What the SBOM scanner wrote for one variant, given its plan and its staged reference.
Sbom = Callable[[VariantPlan, Reference], Awaitable[Scan]]
# Push a variant's base image (its last stage's FROM) beside it, given the plan and the
# address to push to: its pinned reference there, or None (FROM scratch or a stage).
StageBase = Callable[[VariantPlan, str], Awaitable[str | None]]


@dataclass(frozen=True)
class Attach:
    """The statements staged beside each image: its provenance, its SBOM, or neither."""

    provenance: Provenance | None = None
    sbom: Sbom | None = None


def in_staging(staging: Staging, address: str, pinned: str) -> Reference:
    """Where what was pushed to ``address`` is read: the staging registry, by its digest.

    ``pinned``: what the push returned, ``REFERENCE@sha256:...``.
    """
    _, _, digest = pinned.partition("@")
    try:
        validate_digest(digest)
    except InvalidInputError:
        raise OciError(
            f"staging {address}: expected the build tool to return REFERENCE@sha256:..., "
            f"found {pinned!r}"
        ) from None
    return parse_reference(f"{staging.host}/{staging.repository}@{digest}")


async def _stage_one(stage: Stage, staging: Staging, plan: VariantPlan, tag: str) -> Reference:
    """Build and push one variant to the staging registry; its digest-pinned reference there."""
    address = f"{staging.push_host}/{staging.repository}:{tag}"
    return in_staging(staging, address, await stage(plan, address))


async def _facts(provenance: Provenance | None, plan: VariantPlan, image: str) -> BuildFacts | None:
    return None if provenance is None else await provenance(plan, image)


async def _scan(sbom: Sbom | None, plan: VariantPlan, staged: Reference) -> Scan | None:
    return None if sbom is None else await sbom(plan, staged)


async def _inputs(
    attach: Attach, plan: VariantPlan, staged: Reference
) -> tuple[BuildFacts | None, Scan | None]:
    """The build's facts and its SBOM scan, side by side (each when asked for)."""
    return await both(
        partial(_facts, attach.provenance, plan, staged.digest or ""),
        partial(_scan, attach.sbom, plan, staged),
    )


async def _resolve_staged(  # noqa: PLR0913 - one variant's staging, its context passed in
    client: RegistryClient,
    staged: Reference,
    plan: VariantPlan,
    attach: Attach,
    name: str,
    *,
    keep_attestations: bool,
) -> tuple[ResolvedVariant, BuildFacts | None]:
    """The staged variant, wrapped first with its SBOM and provenance when it has them."""
    if attach.provenance is None and attach.sbom is None:
        variant = await resolve_variant(
            client, staged, plan.platform, attestations=keep_attestations
        )
        return variant, None
    (image, config), (facts, scan) = await both(
        partial(staged_image, client, staged), partial(_inputs, attach, plan, staged)
    )
    statements = []
    if scan is not None:
        document = normalised_document(scan, image.digest, config.created, str(plan.platform))
        statements.append(Statement(SPDX_DOCUMENT, sbom_statement(image.digest, name, document)))
        if facts is not None:  # the scanner is an input of what the release publishes
            facts = facts.model_copy(update={"sbom_scanner": scan.scanner})
    if facts is not None:
        statements.append(Statement(SLSA_V1, statement(image.digest, name, facts)))
    wrapped = await stage_attestations(client, staged, image, config, statements)
    return await resolve_variant(client, wrapped, plan.platform, attestations=True), facts


async def _reuse_all(
    client: RegistryClient,
    target: Reference,
    resolved: Sequence[tuple[ResolvedVariant, BuildFacts | None]],
) -> list[Reuse]:
    """Each variant, or the target's image and attestation where they say the same build."""
    if all(facts is None for _, facts in resolved):
        return [Reuse(variant) for variant, _ in resolved]
    published = await published_index(client, target)
    return await run_all(
        [
            partial(reuse_published, client, target, published, variant, facts)
            if facts is not None
            else partial(_same, variant)
            for variant, facts in resolved
        ]
    )


async def _reproducible(  # noqa: PLR0913, PLR0917 - one variant and where it was staged
    client: RegistryClient,
    epoch: int,
    stage_base: StageBase | None,
    plan: VariantPlan,
    staged: Reference,
    staging: Staging,
    tag: str,
) -> Normalised:
    """The staged variant made reproducible, its base pushed beside it to find its layers."""
    base = None
    if stage_base is not None:
        address = f"{staging.push_host}/{staging.repository}:{tag}-base"
        pinned = await stage_base(plan, address)
        base = in_staging(staging, address, pinned) if pinned is not None else None
    return await make_reproducible(
        client,
        epoch,
        staged=staged,
        base=base,
        platform=plan.platform,
        what=f"{plan.platform} image",
    )


def _stamped(attach: Attach, epoch: int | None, kept: int) -> Attach:
    """``attach`` whose provenance records the epoch and the base layers kept, when clamped."""
    provenance = attach.provenance
    if provenance is None or epoch is None:
        return attach

    async def facts(plan: VariantPlan, image: str) -> BuildFacts:
        found = await provenance(plan, image)
        return found.model_copy(update={"source_date_epoch": epoch, "base_layers_kept": kept})

    return replace(attach, provenance=facts)


async def _same(variant: ResolvedVariant) -> Reuse:
    return Reuse(variant)


def _tag_action(action: str, reuse: Reuse) -> str:
    """The tag's action, saying when it is unchanged because the published build was kept."""
    return SAME_INPUTS if action == "unchanged" and reuse.same_inputs else action


async def release(  # noqa: PLR0913 - mirrors `dagger call release`
    plans: Sequence[VariantPlan],
    stage: Stage,
    *,
    staging: Staging,
    registry: str,
    repository: str,
    version: str,
    settings: Settings,
    annotations: dict[str, str] | None = None,
    source_date_epoch: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    keep_attestations: bool = False,
    attach: Attach = Attach(),
    signer: Signer | None = None,
    keyless: KeylessSigning | None = None,
    stage_base: StageBase | None = None,
) -> ReleaseReport:
    """Stage every variant, check the target, then write ``REPO:VERSION`` and its variants.

    ``keep_attestations``: the index carries the attestation manifests staged with each
    variant (a builder that attests pushes them), right after its image. ``attach``: the
    facts of each build, for the SLSA provenance the index carries after each image, and
    its SBOM scan (None: not attached). ``signer``, ``keyless``: the index, each image and each
    statement are signed by key, keyless or both once the index verified, before any tag moves.
    ``source_date_epoch``: each staged image is made reproducible (``reproducible.py``);
    ``stage_base`` pushes each variant's base image beside it, whose layers stay as they are.
    """
    target = parse_reference(f"{registry}/{repository}:{version}")
    tags = [variant_tag(version, plan.platform) for plan in plans]
    for tag in tags:  # a bad version fails before any build
        parse_reference(f"{target.repository_name}:{tag}")
    notes = index_annotations(annotations or {}, source_date_epoch)  # bad input: before builds
    epoch = parse_epoch(source_date_epoch, now=time.time()) if source_date_epoch else None
    if keyless:  # a token that cannot sign fails the release before the builds
        await preflight(keyless)
    staged = await run_all(
        [partial(_stage_one, stage, staging, p, t) for p, t in zip(plans, tags, strict=True)]
    )
    async with open_client(settings) as client:
        kept = [0] * len(plans)
        if epoch is not None:
            normalised = await run_all(
                [
                    partial(_reproducible, client, epoch, stage_base, plan, ref, staging, tag)
                    for ref, plan, tag in zip(staged, plans, tags, strict=True)
                ]
            )
            staged = [parse_reference(n.reference) for n in normalised]
            kept = [n.kept for n in normalised]
        resolved = await run_all(
            [
                partial(
                    _resolve_staged,
                    client,
                    ref,
                    p,
                    _stamped(attach, epoch, keep),
                    subject_name(target, tag, p.platform),
                    keep_attestations=keep_attestations,
                )
                for ref, p, tag, keep in zip(staged, plans, tags, kept, strict=True)
            ]
        )
        reused = await _reuse_all(client, target, resolved)
        variants = [reuse.variant for reuse in reused]
        index = build_index(variants, annotations=notes)
        wanted = [(target, index)] + [
            (target.with_tag(tag), variant.manifest)
            for tag, variant in zip(tags, variants, strict=True)
        ]
        # The signature tags are read with the release's tags: both are the check.
        (release_tag, *variant_tags), signing = await both(
            partial(plan_tags, client, wanted),
            partial(plan_release_signing, client, target, index, variants, signer, keyless=keyless),
        )
        refuse_moves(
            [release_tag, *variant_tags], force, why=[c for r in reused for c in r.changes]
        )
        # The image digests each stage returned are this release's ledger, but for a kept
        # published build (same inputs): its image is what the release holds.
        recorded = [
            reuse.variant.manifest.digest if reuse.same_inputs else ref.digest
            for reuse, ref in zip(reused, staged, strict=True)
        ]
        outcome = None
        if not dry_run:
            outcome = await publish_index(
                client, index, variants, release_tag, variant_tags, force=force, signing=signing
            )
        assembly = assembly_report(
            target,
            index,
            variants,
            recorded,
            client.stats,
            previous=release_tag.current,
            outcome=outcome,
            signing=outcome.signing if outcome else signing,
        )
        tagged = outcome.variant_tags if outcome else variant_tags
    released = [
        ReleasedVariant(
            platform=str(variant.declared),
            reference=f"{plan.reference}@{variant.manifest.digest}",
            digest=variant.manifest.digest,
            tag_action=_tag_action(plan.action, reuse),
            previous_digest=plan.current,
        )
        for variant, plan, reuse in zip(variants, tagged, reused, strict=True)
    ]
    return ReleaseReport(ok=assembly.ok, target=str(target), variants=released, assembly=assembly)


async def publish_variant(  # noqa: PLR0913 - mirrors `dagger call publish-variant`
    plan: VariantPlan,
    stage: Stage,
    *,
    staging: Staging,
    registry: str,
    repository: str,
    version: str,
    settings: Settings,
    force: bool = False,
    attach: Attach = Attach(),
) -> ReleasedVariant:
    """Stage one variant, check its ``VERSION-ARCH`` tag, then copy the image and tag it.

    One native runner's share of a split release. Its tag is guarded as a release's are:
    one that holds another image is refused before any write unless ``force``. With
    provenance or an SBOM (``attach``) the tag holds what Docker 29 pushes, an index of
    the image and its attestation, which ``assemble --attestations keep`` carries into the
    release index.
    """
    tag = variant_tag(version, plan.platform)
    target = parse_reference(f"{registry}/{repository}:{tag}")  # bad input: before the build
    staged = await _stage_one(stage, staging, plan, tag)
    async with open_client(settings) as client:
        name = subject_name(target, tag, plan.platform)
        resolved = await _resolve_staged(
            client, staged, plan, attach, name, keep_attestations=False
        )
        (reuse,) = await _reuse_all(client, target, [resolved])
        variant = reuse.variant
        written = variant.manifest
        if variant.attestations:
            entries = [attestation.entry for attestation in variant.attestations]
            written = wrapper_index(variant.manifest, variant.platform, entries)
        (wanted,) = await plan_tags(client, [(target, written)])
        tagged = await publish_image(client, variant, wanted, force=force, why=reuse.changes)
    return ReleasedVariant(
        platform=str(variant.declared),
        reference=f"{target}@{variant.manifest.digest}",
        digest=variant.manifest.digest,
        tag_action=_tag_action(tagged.action, reuse),
        previous_digest=tagged.current,
        index_digest=written.digest if written is not variant.manifest else "",
    )
