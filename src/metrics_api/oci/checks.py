"""One check and one index entry as every report shows them; below the jobs that make them.

The release's verification and the signature checks both report in these, so they live
under both.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict

# What a ledger or pull check compared the index with: a digest the caller recorded when
# the variant was pushed, or (no ledger given) the digest this job itself resolved.
Basis = Literal["", "ledger", "resolution", "index"]


class _Report(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)


class Check(_Report):
    """One verification check: a stable name, whether it held, and what was seen."""

    name: str
    ok: bool
    detail: str
    basis: Basis = ""

    def text(self) -> str:
        """One line of a CI log."""
        return f"  [{'ok' if self.ok else 'FAIL'}] {self.name}: {self.detail}"


class EntryReport(_Report):
    """One index entry as published."""

    platform: str
    digest: str
    size: int
    media_type: str
    annotations: dict[str, str] = {}
