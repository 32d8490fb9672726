"""Typed, JSON-serialisable results: what CI logs, what `--json` prints, what Dagger shows."""

from pydantic import BaseModel, ConfigDict


class _Report(BaseModel):
    model_config = ConfigDict(frozen=True)


class Check(_Report):
    """One verification check: a stable name, whether it held, and what was seen."""

    name: str
    ok: bool
    detail: str


class EntryReport(_Report):
    """One index entry as published."""

    platform: str
    digest: str
    size: int
    media_type: str
    annotations: dict[str, str] = {}


class VerificationReport(_Report):
    """The published index checked against the digest ledger; ``ok`` only if every check held."""

    ok: bool
    reference: str
    digest: str | None
    media_type: str | None
    entries: list[EntryReport]
    checks: list[Check]

    def failures(self) -> list[Check]:
        """The checks that did not hold."""
        return [check for check in self.checks if not check.ok]


class VariantReport(_Report):
    """One resolved variant: what was given and the image manifest it resolved to."""

    platform: str
    reference: str
    digest: str
    size: int
    media_type: str
    unwrapped_from: str | None
    child_action: str = ""  # present / mounted / copied in the target repository


class AssembleReport(_Report):
    """The outcome of assembling, publishing and verifying one multi-platform index."""

    ok: bool
    target: str
    digest: str
    tag_action: str  # created / unchanged / moved / dry-run
    previous_digest: str | None
    variants: list[VariantReport]
    entries: list[EntryReport]
    verification: VerificationReport | None
    index: str  # the exact index JSON that was (or, in a dry run, would be) pushed
    requests: int
    retries: int
