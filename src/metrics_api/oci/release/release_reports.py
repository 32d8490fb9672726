"""What a release reports: each variant's tag, and the assembly, as `dagger call release` shows."""

from pydantic import BaseModel, ConfigDict

from metrics_api.oci.release.reports import AssembleReport

# The tag action of a variant whose new build had the published build's inputs: kept.
SAME_INPUTS = "unchanged (same inputs)"


class ReleasedVariant(BaseModel):
    """A variant as built and staged, and the tag it gets in the target."""

    model_config = ConfigDict(frozen=True)

    platform: str
    reference: str  # REGISTRY/REPO:VERSION-ARCH@DIGEST in the target
    digest: str
    tag_action: str  # created / unchanged / unchanged (same inputs) / moved, or a dry run's
    previous_digest: str | None
    # What the tag holds when it is not the image: Docker 29's index of it and its attestation.
    index_digest: str = ""

    def outcome(self) -> str:
        """What happened to its tag, from what to what."""
        tag = self.reference.partition("@")[0]
        held = (
            f"{self.index_digest} (the image {self.digest} and its attestation)"
            if self.index_digest
            else self.digest
        )
        if self.tag_action == "moved":
            return f"{tag} moved from {self.previous_digest} to {held}"
        if self.tag_action == "unchanged":
            return f"{tag} already held {held}: nothing written"
        if self.tag_action == SAME_INPUTS:
            return (
                f"{tag} already held {held}, built from the same inputs as this build: "
                "kept, nothing written"
            )
        return f"{tag} created: {held}"


class ReleaseReport(BaseModel):
    """Everything a release did (or, in a dry run, would do), as `dagger call release` prints."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    target: str
    variants: list[ReleasedVariant]
    assembly: AssembleReport

    def summary(self) -> str:
        """A readable summary for CI logs."""
        assembly = self.assembly
        dry_run = assembly.tag_action == "dry-run"
        would = "would be " if dry_run else ""
        lines = [f"release {self.target}: {'dry run, nothing written' if dry_run else 'ok'}"]
        lines.extend(
            f"  {v.platform}: {v.reference} ({would}{_variant_action(v)})" for v in self.variants
        )
        index = _action(assembly.digest, assembly.previous_digest)
        lines.append(f"  index {assembly.digest} ({would}{index})")
        return "\n".join(lines + assembly.outcome_lines())


def _variant_action(variant: ReleasedVariant) -> str:
    """A variant's tag action; a kept published build says why it was kept."""
    if variant.tag_action == SAME_INPUTS:
        return "unchanged: same inputs as the published build"
    return _action(variant.digest, variant.previous_digest)


def _action(digest: str, previous: str | None) -> str:
    """What pointing a tag that held ``previous`` at ``digest`` is."""
    if previous is None:
        return "created"
    return "unchanged" if previous == digest else f"moved, was {previous}"
