"""Verify a published index against the digest ledger recorded when the variants were pushed.

This is the check no other stitching tool makes: re-read the index from the registry and
prove that each platform a consumer can pull is exactly the image that was pushed for it.
"""

from collections.abc import Mapping, Sequence
from functools import partial

from metrics_api.oci.checks import Check, EntryReport
from metrics_api.oci.concurrency import both, run_all
from metrics_api.oci.errors import OciError
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.release.attestations import check_attestations
from metrics_api.oci.release.provenance_check import check_provenance
from metrics_api.oci.release.reports import VerificationReport
from metrics_api.oci.release.sbom_check import check_sbom
from metrics_api.oci.spec.models import (
    Descriptor,
    ImageConfig,
    ImageIndex,
    ImageManifest,
    Manifest,
    parse_config,
)
from metrics_api.oci.spec.platform import Platform
from metrics_api.oci.spec.reference import Reference

Ledger = Sequence[tuple[Platform, str]]
# Per platform: the image digest resolved for it, and the digest the caller recorded (the
# image's, or the index Docker 29 wraps it in), or None when no ledger line was given.
Recorded = Sequence[tuple[Platform, str, str | None]]


def entry_report(entry: Descriptor) -> EntryReport:
    """An index entry as reported."""
    return EntryReport(
        platform=str(entry.platform) if entry.platform else "",
        digest=entry.digest,
        size=entry.size,
        media_type=entry.media_type,
        annotations=entry.annotations or {},
    )


def pull_resolution(index: ImageIndex, wanted: Platform) -> Descriptor | None:
    """The entry ``docker pull --platform`` would take: the first runnable match, in order."""
    return next(
        (
            entry
            for entry in index.manifests
            if entry.is_image and entry.platform is not None and wanted.matches(entry.platform)
        ),
        None,
    )


async def _check_child(
    client: RegistryClient,
    ref: Reference,
    entry: Descriptor,
    just_pushed: bool,
    configs: Mapping[str, ImageConfig],
) -> Check:
    name = f"child {entry.platform}"
    try:
        child = await client.get_manifest(ref.with_digest(entry.digest), just_pushed=just_pushed)
        if not isinstance(child.document, ImageManifest):
            detail = f"{entry.digest} is a {child.media_type}, expected an image manifest"
            return Check(name=name, ok=False, detail=detail)
        config = configs.get(child.document.config.digest)
        if config is None:
            config = parse_config(
                await client.get_blob(ref, child.document.config.digest, just_pushed=just_pushed),
                f"configuration of {entry.digest}",
            )
    except OciError as error:
        return Check(name=name, ok=False, detail=str(error))
    problems = []
    if child.size != entry.size:
        problems.append(f"entry says {entry.size} bytes, manifest has {child.size}")
    if child.media_type != entry.media_type:
        problems.append(f"entry says {entry.media_type}, manifest is {child.media_type}")
    if entry.platform is None or not entry.platform.matches(config.platform):
        problems.append(f"entry says {entry.platform}, image configuration says {config.platform}")
    return Check(
        name=name,
        ok=not problems,
        detail="; ".join(problems)
        or f"{entry.digest} is in {ref.repository_name}, {child.size} bytes, "
        f"configuration {config.platform}",
    )


async def check_children(
    client: RegistryClient,
    ref: Reference,
    index: ImageIndex,
    just_pushed: bool,
    configs: Mapping[str, ImageConfig],
) -> list[Check]:
    """Check that each image entry of ``index`` is in ``ref``'s repository, as the entry says."""
    images = [entry for entry in index.manifests if entry.is_image]
    children, attested = await both(
        partial(
            run_all,
            [partial(_check_child, client, ref, entry, just_pushed, configs) for entry in images],
        ),
        partial(check_attestations, client, ref, index, just_pushed),
    )
    return [*children, *attested]


async def _ledger_names(
    client: RegistryClient, ref: Reference, digest: str, platform: Platform, entry: Descriptor
) -> tuple[str, str]:
    """The image a ledger digest stands for, and what it is, when it is not ``entry``'s.

    Docker 29 prints the digest of the index it wraps every image in, so a ledger line may
    name that index: it stands for its one image for ``platform``.
    """
    try:
        named = await client.get_manifest(ref.with_digest(digest))
    except OciError as error:
        return digest, f"{digest} could not be read from {ref.repository_name} ({error})"
    if not isinstance(named.document, ImageIndex):
        return digest, f"{digest} is another image manifest ({named.media_type})"
    images = [
        e
        for e in named.document.manifests
        if e.is_image and e.platform is not None and platform.matches(e.platform)
    ]
    if len(images) != 1:
        return digest, f"{digest} is an index with {len(images)} images for {platform}"
    if images[0].digest != entry.digest:
        return digest, f"{digest} is a wrapper index of another image, {images[0].digest}"
    return entry.digest, f"{digest} is the wrapper index of that image"


async def _ledger_checks(
    client: RegistryClient, ref: Reference, document: ImageIndex, platform: Platform, digest: str
) -> list[Check]:
    """Exactly one entry for ``platform``, and the one a pulling client takes, is ``digest``."""
    images = [entry for entry in document.manifests if entry.is_image]
    matching = [e for e in images if e.platform is not None and platform.matches(e.platform)]
    found = ", ".join(e.digest for e in matching) or "no entry"
    image, detail = digest, f"expected exactly one entry {digest}, found {found}"
    if len(matching) == 1 and matching[0].digest != digest:
        image, named = await _ledger_names(client, ref, digest, platform, matching[0])
        detail = (
            f"expected exactly one entry {image}, the image in the wrapper index {digest} the "
            f"ledger names; found {found}"
            if image != digest
            else f"{detail} (the image manifest for {matching[0].platform}); {named}"
        )
    chosen = pull_resolution(document, platform)
    return [
        Check(
            name=f"ledger {platform}",
            ok=len(matching) == 1 and matching[0].digest == image,
            detail=detail,
            basis="ledger",
        ),
        Check(
            name=f"pull {platform}",
            ok=chosen is not None and chosen.digest == image,
            detail=f"a client pulling {platform} gets {chosen.digest if chosen else 'nothing'}",
            basis="ledger",
        ),
    ]


def label_own_ledger(report: VerificationReport) -> VerificationReport:
    """Say that the ledger checks compared the index with itself: no ledger was given."""
    checks = [
        check.model_copy(
            update={"basis": "index", "detail": f"no ledger given, the index's own: {check.detail}"}
        )
        if check.basis == "ledger"
        else check
        for check in report.checks
    ]
    return report.model_copy(update={"checks": checks, "ledger": "index"})


def _labelled(check: Check, image: str, given: str | None) -> Check:
    """A ledger or pull check, saying what it compared with."""
    is_ledger = check.name.startswith("ledger ")
    if given is None:
        note = "no ledger given, compared with the digest recorded at resolution: "
        detail = f"{note}{check.detail}" if is_ledger else check.detail
        return check.model_copy(update={"basis": "resolution", "detail": detail})
    if is_ledger and given != image:
        detail = f"{check.detail} (the image in the wrapper index {given} the ledger names)"
        return check.model_copy(update={"detail": detail})
    return check


def label_ledger(report: VerificationReport, recorded: Recorded) -> VerificationReport:
    """Say what each ledger check compared with, once the caller's own ledger is known.

    Publishing verifies against the image digests it resolved; where the caller recorded
    none, those checks compare the index with what this job itself read, and say so.
    """
    lines = {str(platform): (image, given) for platform, image, given in recorded}
    checks = [
        _labelled(check, *lines[platform])
        if check.basis and (platform := check.name.partition(" ")[2]) in lines
        else check
        for check in report.checks
    ]
    given = sum(1 for _, _, digest in recorded if digest)
    ledger = "given" if given == len(recorded) else "partial" if given else "none"
    return report.model_copy(update={"checks": checks, "ledger": ledger})


async def verify_index(  # noqa: PLR0913 - pushed, children and configs only save round trips
    client: RegistryClient,
    ref: Reference,
    ledger: Ledger | None,
    *,
    just_pushed: bool = False,
    pushed: Manifest | None = None,
    children: Sequence[Check] | None = None,
    configs: Mapping[str, ImageConfig] | None = None,
    require_provenance: bool = False,
    require_sbom: bool = False,
) -> VerificationReport:
    """Fetch ``ref`` (tag or digest) and check every entry against ``ledger``.

    ``ledger`` None: the index's own image entries stand for it (what a signature on the
    index vouches for, when a key verifies it).

    Each platform's provenance and SBOM are checked when the index has attestations, and
    must be there when ``require_provenance`` / ``require_sbom``.

    ``pushed``: the index this job just PUT at ``ref`` by digest, and ``children``: the
    checks of its children (``check_children``) the job made while it was PUT. A read that
    passes the digest check has exactly these entries, so those checks hold for it, and
    the children are not read again. ``configs``: image configurations this job fetched
    and checked, by digest; content-addressed, so they need not be fetched again.
    """
    checks: list[Check] = []
    known = configs or {}
    early = (
        pushed.document
        if pushed is not None
        and children is not None
        and ref.digest == pushed.digest
        and isinstance(pushed.document, ImageIndex)
        else None
    )

    def report(
        digest: str | None,
        media_type: str | None,
        entries: list[EntryReport],
        sbom_images: frozenset[str] = frozenset(),
    ) -> VerificationReport:
        return VerificationReport(
            ok=bool(checks) and all(check.ok for check in checks),
            reference=str(ref),
            digest=digest,
            media_type=media_type,
            entries=entries,
            checks=checks,
            sbom_images=sbom_images,
        )

    try:
        index = await client.get_manifest(ref, just_pushed=just_pushed)
    except OciError as error:
        if error.remedy is not None:  # a setting is wrong (trust, credentials): say which
            raise
        checks.append(Check(name="fetch", ok=False, detail=str(error)))
        return report(None, None, [])
    checks.append(
        Check(
            name="fetch",
            ok=True,
            detail=f"{ref} is {index.digest} ({index.size} bytes); the bytes hash to the digest "
            "the registry announced",
        )
    )
    checks.append(
        Check(
            name="content-type",
            ok=index.content_type == index.media_type,
            detail=f"Content-Type {index.content_type or 'missing'}, mediaType {index.media_type}",
        )
    )
    if not isinstance(index.document, ImageIndex):
        checks.append(
            Check(
                name="is-index",
                ok=False,
                detail=f"expected an image index, found {index.media_type}",
            )
        )
        return report(index.digest, index.media_type, [])
    checks.append(
        Check(
            name="is-index",
            ok=True,
            detail=f"{index.media_type} with {len(index.document.manifests)} entries",
        )
    )
    document = index.document
    images = [entry for entry in document.manifests if entry.is_image]
    if ledger is None:
        ledger = [(e.platform, e.digest) for e in images if e.platform is not None]
    per_platform = [partial(_ledger_checks, client, ref, document, p, d) for p, d in ledger]
    for platform_checks in await run_all(per_platform):  # each may read a wrapper index
        checks.extend(platform_checks)
    unexpected = [
        e
        for e in images
        if not any(e.platform is not None and p.matches(e.platform) for p, _ in ledger)
    ]
    checks.append(
        Check(
            name="no unexpected entries",
            ok=not unexpected,
            detail=", ".join(f"{e.platform} {e.digest}" for e in unexpected)
            or "every image entry is in the ledger",
        )
    )
    if early is None or children is None or index.document != early:
        children = await check_children(client, ref, document, just_pushed, known)
    checks.extend(children)
    provenance, sbom = await both(
        partial(
            check_provenance,
            client,
            ref,
            document,
            required=require_provenance,
            just_pushed=just_pushed,
        ),
        partial(check_sbom, client, ref, document, required=require_sbom, just_pushed=just_pushed),
    )
    checks.extend(provenance)
    checks.extend(sbom.checks)
    entries = [entry_report(e) for e in document.manifests]
    return report(index.digest, index.media_type, entries, sbom.carrying)
