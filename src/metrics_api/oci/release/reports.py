"""Typed, JSON-serialisable results: what CI logs, what `--json` prints, what Dagger shows."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from metrics_api.oci.checks import Basis, Check, EntryReport


class _Report(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)


class VerificationReport(_Report):
    """The published index checked against the digest ledger; ``ok`` only if every check held.

    ``ledger``: whether the caller gave a ledger line for every platform (``given``), for
    some (``partial``) or for none (``none``: the ledger checks then only prove that the
    index holds the digests this job resolved, not the ones pushed).
    """

    ok: bool
    reference: str
    digest: str | None
    media_type: str | None
    entries: list[EntryReport]
    checks: list[Check]
    ledger: Literal["given", "partial", "none", "index"] = "given"
    # The images whose SBOM the checks found: a key check then wants it signed.
    sbom_images: frozenset[str] = Field(default=frozenset(), exclude=True)

    def failures(self) -> list[Check]:
        """The checks that did not hold."""
        return [check for check in self.checks if not check.ok]

    def _ledger_note(self) -> str:
        def platforms(basis: Basis) -> str:
            return ", ".join(
                check.name.removeprefix("ledger ")
                for check in self.checks
                if check.name.startswith("ledger ") and check.basis == basis
            )

        if self.ledger == "none":
            return " (no ledger given: entries compared with the digests recorded at resolution)"
        if self.ledger == "index":
            return " (no ledger given: the index's own entries, which its signature vouches for)"
        if self.ledger == "partial":
            return (
                f" (ledger given for {platforms('ledger')} only; {platforms('resolution')} "
                "compared with the digest recorded at resolution)"
            )
        return ""

    def text(self) -> str:
        """A readable report for CI logs."""
        status = "ok" if self.ok else "FAILED"
        lines = [f"verification of {self.reference}: {status}{self._ledger_note()}"]
        return "\n".join(lines + [check.text() for check in self.checks])


class VariantReport(_Report):
    """One resolved variant: what was given and the image manifest it resolved to."""

    platform: str
    reference: str
    digest: str
    size: int
    media_type: str
    unwrapped_from: str | None
    child_action: str = ""  # present / mounted / copied in the target repository
    # Which digest the ledger line names: the image's, the index it was unwrapped from, or
    # none (no ledger line for this platform).
    ledger: Literal["image", "wrapper", "none"] = "none"

    def text(self) -> str:
        """One line: the platform, where it came from and the image it resolved to."""
        named = ", the digest the ledger names" if self.ledger == "wrapper" else ""
        origin = (
            f" (unwrapped from index {self.unwrapped_from}{named})" if self.unwrapped_from else ""
        )
        action = f" ({self.child_action})" if self.child_action else ""
        return f"{self.platform} {self.reference} -> {self.digest}{origin}{action}"


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
    written: list[str] = []  # what this job wrote to the registry, in order
    # Each signature and signed attestation: signed, already there, or (dry run) would be.
    signatures: list[str] = []
    index: str  # the exact index JSON that was (or, in a dry run, would be) pushed
    requests: int
    retries: int

    def text(self) -> str:
        """A readable report for CI logs; a dry run shows the index it would push."""
        lines = [f"{self.target} {self.tag_action}: {self.digest}"]
        lines.extend(f"  {variant.text()}" for variant in self.variants)
        if self.tag_action == "dry-run":
            lines.append(self.index.rstrip())
        return "\n".join(lines + self.outcome_lines())

    def outcome_lines(self) -> list[str]:
        """What was written, the signatures, then the verification (a dry run: signatures)."""
        signed = ["signatures:", *(f"  {line}" for line in self.signatures)]
        signed = signed if self.signatures else []
        if self.verification is None:
            return signed
        if self.written:
            lines = ["wrote, in order:", *(f"  {i}. {w}" for i, w in enumerate(self.written, 1))]
        else:
            lines = ["wrote nothing: the registry already held this release"]
        return [*lines, *signed, self.verification.text()]
