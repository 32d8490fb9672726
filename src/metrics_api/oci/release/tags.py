"""The tags' protections, the same for every write: looked at, refused, written, read back.

The distribution API has no conditional PUT. So each tag is looked at by the job's check
(a move refused there without ``force``), looked at again as late as the job allows, and
read back after its PUT; a tag that changed in between is refused, one moved by another
writer after our PUT is reported, never hidden. When several tags are written, every
late look is judged before the first PUT, and a failure names the tags already written.
"""

from collections.abc import Sequence
from functools import partial
from typing import NamedTuple

from metrics_api.oci.concurrency import run_all
from metrics_api.oci.errors import (
    OciError,
    Remedy,
    TagConflictError,
    VerificationError,
    with_note,
)
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.spec.models import Manifest
from metrics_api.oci.spec.reference import Reference


class TagPlan(NamedTuple):
    """A tag to write: the manifest it must hold, and what it held when the job looked."""

    reference: Reference
    manifest: Manifest
    current: str | None

    @property
    def action(self) -> str:
        """What writing it does: created, moved, or unchanged."""
        if self.current == self.manifest.digest:
            return "unchanged"
        return "moved" if self.current else "created"


async def digest_at(client: RegistryClient, target: Reference) -> str | None:
    """The digest a tag points at, or None when it is absent."""
    found = await client.head_manifest(target)
    return found.digest if found else None


async def look(client: RegistryClient, target: Reference) -> str | OciError | None:
    """What a tag holds, or why the registry would not say it.

    A failed verification is the better report when both fail, so the look never cancels it.
    """
    try:
        return await digest_at(client, target)
    except OciError as error:
        return error


async def plan_tags(
    client: RegistryClient, wanted: Sequence[tuple[Reference, Manifest]]
) -> list[TagPlan]:
    """Look at every tag the job will write: this is the check that precedes any write."""
    current = await run_all([partial(digest_at, client, tag) for tag, _ in wanted])
    return [
        TagPlan(tag, manifest, digest)
        for (tag, manifest), digest in zip(wanted, current, strict=True)
    ]


def refuse_moves(plans: Sequence[TagPlan], force: bool, why: Sequence[str] = ()) -> None:
    """Refuse, before anything is written, when a tag would move and moving was not allowed.

    ``why``: how the new build's inputs differ from the published one's, when known, so
    the refusal says what changed rather than only two digests.
    """
    moving = [plan for plan in plans if plan.action == "moved"]
    if moving and not force:
        found = "; ".join(
            f"{plan.reference} already points at {plan.current}, this release would make it "
            f"{plan.manifest.digest}"
            for plan in moving
        )
        changed = f". What changed since the published build: {'; '.join(why)}" if why else ""
        raise TagConflictError(
            f"expected each tag to be absent or to hold what this release writes, found {found}"
            f"{changed}; nothing was written",
            remedy=Remedy.FORCE,
        )


def refuse_changes(
    plans: Sequence[TagPlan], latest: Sequence[str | OciError | None], force: bool
) -> list[TagPlan]:
    """Judge every tag's last look before any tag is written; each plan as it stood then.

    A tag that changed since the job's check is another release writing it: refused
    without ``force``, every such tag named. A look the registry did not answer fails here.
    """
    now: list[TagPlan] = []
    for plan, seen in zip(plans, latest, strict=True):
        if isinstance(seen, OciError):
            raise seen
        now.append(TagPlan(plan.reference, plan.manifest, seen))
    changed = [
        f"{plan.reference} changed while this job ran: it pointed at "
        f"{plan.current or 'nothing'} when the job looked and points at "
        f"{seen.current or 'nothing'} now"
        for plan, seen in zip(plans, now, strict=True)
        if seen.current not in (plan.current, plan.manifest.digest)
    ]
    if changed and not force:
        names = ", ".join(str(plan.reference) for plan in plans)
        raise TagConflictError(
            f"{'; '.join(changed)}, expected each tag unchanged; another release is writing "
            f"it. Left as they were: {names}",
            remedy=Remedy.FORCE,
        )
    return now


async def put_tag(client: RegistryClient, now: TagPlan) -> TagPlan:
    """Point one tag at its manifest and read it back (``now``: as its last look found it)."""
    if now.action == "unchanged":
        return now
    tag, wanted = now.reference, now.manifest.digest
    await client.put_manifest(tag, now.manifest.raw, now.manifest.media_type)
    try:
        tagged = await digest_at(client, tag)
    except OciError as error:
        raise with_note(error, f"{tag} had been written to point at {wanted}") from error
    if tagged != wanted:
        raise VerificationError(
            f"after tagging, {tag} points at {tagged or 'nothing'}, expected {wanted}: "
            "another writer moved it in the moment between our last look and our write; "
            "check who releases this tag, then re-run"
        )
    return now


async def write_tag(
    client: RegistryClient, plan: TagPlan, latest: str | OciError | None, force: bool
) -> TagPlan:
    """One tag: refused if it changed since the check, written, read back."""
    (now,) = refuse_changes([plan], [latest], force)
    return await put_tag(client, now)


async def _attempt(client: RegistryClient, now: TagPlan) -> TagPlan | OciError:
    """One tag written, or why not: a failing tag must not cancel a sibling's read-back."""
    try:
        return await put_tag(client, now)
    except OciError as error:
        return error


async def write_tags(
    client: RegistryClient,
    plans: Sequence[TagPlan],
    latest: Sequence[str | OciError | None],
    force: bool,
) -> list[TagPlan]:
    """Every tag of a release, its own tag (the last plan) only once all the others held.

    Every last look is judged first, so a refusal leaves every tag as it was. The others
    are written at once, each to its read-back; when one fails, the error names those
    written, and the release tag is left as it was.
    """
    *others, release = refuse_changes(plans, latest, force)
    outcomes = await run_all([partial(_attempt, client, now) for now in others])
    failures = [outcome for outcome in outcomes if isinstance(outcome, OciError)]
    if failures:
        written = [
            str(outcome.reference)
            for outcome in outcomes
            if isinstance(outcome, TagPlan) and outcome.action != "unchanged"
        ]
        done = f"{', '.join(written)} written and read back" if written else "no other tag written"
        note = f"{done}, and {release.reference} left as it was ({release.current or 'absent'})"
        raise with_note(failures[0], note)
    tagged = [outcome for outcome in outcomes if isinstance(outcome, TagPlan)]
    return [*tagged, await put_tag(client, release)]
