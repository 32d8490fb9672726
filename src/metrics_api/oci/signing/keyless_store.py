"""Sign a release keyless: read its bundles with the check, sign what this identity lacks.

The plan reads the referrers of every subject with the release's check (reads only).
Who signs is known only once a certificate is bought with a token read right before
signing, after the index verified and before any tag moves: then each bundle found is
verified against the trusted root, and a subject whose statement already has a valid
bundle by this identity and issuer gets nothing new (bundles differ on every signing,
so signing again would pile them up). Bundles of other identities are kept.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import anyio.to_thread

from metrics_api.oci.concurrency import run_all
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.registry.referrers import fallback_tag
from metrics_api.oci.signing import cosign_format as cosign
from metrics_api.oci.signing.bundles import (
    COSIGN_SIGN,
    Referrers,
    attach_bundles,
    read_bundles,
    sign_statement,
)
from metrics_api.oci.signing.identity_tokens import TokenSource, fresh_token
from metrics_api.oci.signing.keyless import (
    IdentityPolicy,
    KeylessSigner,
    SigstoreTrust,
    check_bundle,
    open_signer,
)
from metrics_api.oci.signing.store import Subject
from metrics_api.oci.spec.reference import Reference


@dataclass(frozen=True)
class KeylessSigning:
    """What a keyless release was asked for: which Sigstore, and where its token comes from."""

    trust: SigstoreTrust
    tokens: TokenSource


@dataclass(frozen=True)
class KeylessPlan:
    """Each subject with the bundles its check found."""

    signing: KeylessSigning
    repository: Reference
    subjects: tuple[Subject, ...]
    found: tuple[Referrers, ...]

    def planned(self) -> list[str]:
        """Report lines of a dry run: what would be signed, and what is there already."""
        lines = []
        for subject, found in zip(self.subjects, self.found, strict=True):
            what = f"{subject.what} {subject.manifest.digest}"
            present = len(found.bundles)
            kept = f"; {present} bundle{'s' if present > 1 else ''} found beside it"
            wanted = 1 + len(subject.statements)
            lines.append(
                f"{wanted} bundle{'s' if wanted > 1 else ''} of {what}: would be signed keyless "
                f"with the token of {self.signing.tokens.what} (none for statements this "
                f"identity signed){kept if present else ''}"
            )
        return lines


@dataclass(frozen=True)
class KeylessOutcome:
    """What keyless signing did: the write lines, and one report line per signed statement."""

    written: list[str]
    report: list[str]


async def preflight(signing: KeylessSigning) -> None:
    """Refuse a trust config or a token that cannot sign, before anything is built or read.

    The token read here is dropped: signing reads a fresh one.
    """
    signing.trust.check(signing=True)
    await fresh_token(signing.tokens)


async def plan_keyless(
    client: RegistryClient,
    repository: Reference,
    subjects: Sequence[Subject],
    signing: KeylessSigning,
) -> KeylessPlan:
    """Read the bundles of every subject (the check: no write)."""
    found = await run_all(
        [partial(read_bundles, client, repository, s.manifest.digest) for s in subjects]
    )
    return KeylessPlan(signing, repository, tuple(subjects), tuple(found))


def _kind(statement: bytes) -> str:
    about = cosign.statement_facts(statement)
    return about[0] if about else ""


def _covered(
    plan: KeylessPlan, subject: Subject, found: Referrers, signer: KeylessSigner
) -> tuple[set[bytes], int]:
    """Which wanted statements already have a valid bundle by ``signer``; how many are others'."""
    policy = IdentityPolicy(issuer=signer.issuer, identity=signer.identity)
    covered: set[bytes] = set()
    others = 0
    for stored in found.bundles:
        checked = check_bundle(stored, signer.root, policy)
        if checked.statement is None:
            others += 1
            continue
        about = cosign.statement_facts(checked.statement)
        if about == (COSIGN_SIGN, [subject.manifest.digest]):
            covered.add(sign_statement(plan.repository, subject.manifest.digest))
        covered.add(checked.statement)
    return covered, others


def _report(
    plan: KeylessPlan,
    signer: KeylessSigner,
    subject: Subject,
    covered: tuple[set[bytes], int],
) -> list[str]:
    found = plan.found[plan.subjects.index(subject)]
    tag = fallback_tag(plan.repository, subject.manifest.digest).tag
    where = "as referrers" + ("" if found.served else f", listed in {tag}")
    who = f"keyless by {signer.identity} (issuer {signer.issuer})"
    what = f"{subject.what} {subject.manifest.digest}"
    signed, others = covered
    kept = (
        f"; {others} bundle{'s' if others > 1 else ''} of "
        f"{'other identities' if others > 1 else 'another identity'} kept beside it"
        if others
        else ""
    )
    lines = []
    for statement in [
        sign_statement(plan.repository, subject.manifest.digest),
        *subject.statements,
    ]:
        kind = _kind(statement)
        kind = "signature" if kind == COSIGN_SIGN else f"attestation {kind}"
        if statement in signed:
            lines.append(f"{kind} of {what}: already signed {who}, nothing written{kept}")
        else:
            lines.append(f"{kind} of {what}: signed {who}, stored {where}{kept}")
    return lines


async def write_keyless(client: RegistryClient, plan: KeylessPlan) -> KeylessOutcome:
    """Buy a certificate with a fresh token, sign every missing statement, then store all.

    Every bundle is made before the first is stored: a Sigstore that fails half-way
    leaves the registry as the check found it.
    """
    signer = await open_signer(plan.signing.trust, plan.signing.tokens)
    pairs = list(zip(plan.subjects, plan.found, strict=True))
    covered = await run_all(
        [
            partial(anyio.to_thread.run_sync, _covered, plan, subject, found, signer)
            for subject, found in pairs
        ]
    )
    missing = [
        [
            s
            for s in [sign_statement(plan.repository, subject.manifest.digest), *subject.statements]
            if s not in c
        ]
        for subject, (c, _) in zip(plan.subjects, covered, strict=True)
    ]
    flat = [statement for statements in missing for statement in statements]
    signed = dict(zip(flat, await run_all([partial(signer.sign, s) for s in flat]), strict=True))
    stored = await run_all(
        [
            partial(
                attach_bundles,
                client,
                plan.repository,
                subject.manifest,
                [(signed[s], _kind(s)) for s in statements],
                found,
            )
            for (subject, found), statements in zip(pairs, missing, strict=True)
            if statements
        ]
    )
    who = f"keyless by {signer.identity} (issuer {signer.issuer})"
    subjects = [
        subject for subject, statements in zip(plan.subjects, missing, strict=True) if statements
    ]
    return KeylessOutcome(
        written=[
            f"bundle {digest} about {subject.what} {subject.manifest.digest}, {who}"
            for subject, digests in zip(subjects, stored, strict=True)
            for digest in digests
        ],
        report=[
            line
            for subject, found in zip(plan.subjects, covered, strict=True)
            for line in _report(plan, signer, subject, found)
        ],
    )
