"""What an assembly reports: each variant, each entry, what was written and verified.

Both the assembly of pushed variants (jobs.py) and a release (job.py) publish an index and
report it the same way.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from metrics_api.oci.registry.transport import ClientStats
from metrics_api.oci.release.assemble import index_entries
from metrics_api.oci.release.publish import PublishOutcome
from metrics_api.oci.release.reports import AssembleReport, VariantReport
from metrics_api.oci.release.resolve import ResolvedVariant
from metrics_api.oci.release.verify import entry_report, label_ledger
from metrics_api.oci.spec.models import Manifest
from metrics_api.oci.spec.reference import Reference

if TYPE_CHECKING:
    from metrics_api.oci.release.signatures import ReleaseSigning


def variant_report(
    variant: ResolvedVariant, child_action: str = "", expected: str | None = None
) -> VariantReport:
    """A resolved variant as reported, with which of its digests the ledger line named."""
    return VariantReport(
        platform=str(variant.platform),
        reference=str(variant.source),
        digest=variant.manifest.digest,
        size=variant.manifest.size,
        media_type=variant.manifest.media_type,
        unwrapped_from=variant.wrapper_digest,
        child_action=child_action,
        ledger=_named_by_ledger(variant, expected),
    )


def _named_by_ledger(
    variant: ResolvedVariant, expected: str | None
) -> Literal["image", "wrapper", "none"]:
    if not expected:
        return "none"
    return "wrapper" if expected == variant.wrapper_digest else "image"


def assembly_report(  # noqa: PLR0913 - what an assembly produced, as it produced it
    target: Reference,
    index: Manifest,
    variants: Sequence[ResolvedVariant],
    expected: Sequence[str | None],
    stats: ClientStats,
    *,
    previous: str | None,
    outcome: PublishOutcome | None = None,
    signing: "ReleaseSigning | None" = None,
) -> AssembleReport:
    """The report of an assembly that was published (``outcome``), or of a dry run."""
    actions = outcome.child_actions if outcome else [""] * len(variants)
    recorded = [(v.declared, v.manifest.digest, e) for v, e in zip(variants, expected, strict=True)]
    return AssembleReport(
        ok=outcome.verification.ok if outcome else True,
        target=str(target),
        digest=index.digest,
        tag_action=outcome.tag_action if outcome else "dry-run",
        previous_digest=outcome.previous_digest if outcome else previous,
        variants=[
            variant_report(v, a, e) for v, a, e in zip(variants, actions, expected, strict=True)
        ],
        entries=[entry_report(entry) for entry in index_entries(index)],
        verification=label_ledger(outcome.verification, recorded) if outcome else None,
        written=outcome.written if outcome else [],
        signatures=[
            *(signing.planned(done=outcome is not None) if signing else []),
            *(outcome.keyless if outcome else []),
        ],
        index=index.raw.decode(),
        requests=stats.requests,
        retries=stats.retries,
    )
