"""Check a published release's keyless bundles against an identity, as ``cosign verify`` does.

The index and every platform image need a bundle, stored as a referrer of that very
manifest, that verifies against the trusted root (certificate chain, transparency log
inclusion, timestamp, signature), was signed by a certificate the identity policy admits,
and signs a statement about that digest: cosign's signing statement for the manifest
itself, and for an image with provenance or an SBOM that statement too.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import anyio.to_thread

from metrics_api.oci.checks import Check, EntryReport
from metrics_api.oci.concurrency import run_all
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.signing import cosign_format as cosign
from metrics_api.oci.signing.bundles import COSIGN_SIGN, read_bundles
from metrics_api.oci.signing.check import KINDS, attests, signed_subjects
from metrics_api.oci.signing.keyless import (
    BundleCheck,
    IdentityPolicy,
    SigstoreTrust,
    check_bundle,
)
from metrics_api.oci.spec.reference import Reference

if TYPE_CHECKING:
    from sigstore.models import TrustedRoot


@dataclass(frozen=True)
class KeylessVerification:
    """Whose bundles a verification wants, and the Sigstore whose roots vouch for them."""

    policy: IdentityPolicy
    trust: SigstoreTrust


def _about(statement: bytes, digest: str, kind: str) -> bool:
    """Whether a verified bundle's statement is the ``kind`` wanted about ``digest``."""
    if kind != "signature":
        return attests(statement, digest, kind)
    facts = cosign.statement_facts(statement)
    return facts is not None and facts[0] == COSIGN_SIGN and digest in facts[1]


def _summary(checked: Sequence[BundleCheck], policy: IdentityPolicy) -> str:
    others = sorted(
        {f"{c.identity} (issuer {c.issuer})" for c in checked if c.identity and c.problem}
    )
    invalid = [c for c in checked if not c.identity]
    parts = [f"{len(checked)} bundle{'s' if len(checked) > 1 else ''} found"]
    if others:
        parts.append(f"signed by {', '.join(others)}, not {policy.text}")
    if invalid:
        parts.append(f"{len(invalid)} unreadable ({invalid[0].problem})")
    return "; ".join(parts)


async def _checked(
    client: RegistryClient,
    repository: Reference,
    digest: str,
    verifying: tuple[IdentityPolicy, "TrustedRoot"],
) -> list[BundleCheck]:
    """Every bundle referring to ``digest``, read and verified once for all its checks."""
    policy, root = verifying
    found = await read_bundles(client, repository, digest)
    return [
        await anyio.to_thread.run_sync(check_bundle, stored, root, policy)
        for stored in found.bundles
    ]


def _verdict(
    what: str, digest: str, kind: str, checked: Sequence[BundleCheck], policy: IdentityPolicy
) -> Check:
    """Whether ``checked`` holds a valid bundle by the policy's identity of a ``kind`` statement."""
    name = f"keyless {kind} {what}" if kind == "signature" else f"keyless signed {kind} {what}"
    label = "signature" if kind == "signature" else f"signed {KINDS[kind]}"
    matching = [c for c in checked if c.statement is not None]
    for result in matching:
        if _about(result.statement or b"", digest, kind):
            return Check(
                name=name,
                ok=True,
                detail=f"{label} of {what} {digest} by {result.identity} (issuer {result.issuer})",
            )
    tampered = [
        c for c in checked if c.identity and c.problem and policy.admits(c.identity, c.issuer)
    ]
    detail = f"{what} {digest} has no {label} bundle by {policy.text}"
    if tampered:
        detail += f" that verifies ({tampered[0].problem})"
    elif matching:
        detail += f" about it ({len(matching)} by that identity sign other statements)"
    else:
        detail += f" ({_summary(checked, policy) if checked else 'no bundles refer to it'})"
    return Check(name=name, ok=False, detail=detail)


async def check_release_bundles(  # noqa: PLR0913 - a verified index and what it holds
    client: RegistryClient,
    repository: Reference,
    index_digest: str,
    entries: Sequence[EntryReport],
    wanted: KeylessVerification,
    *,
    sbom_images: frozenset[str] = frozenset(),
) -> list[Check]:
    """The keyless checks of a verified index: the index, each image, each statement."""
    root = await anyio.to_thread.run_sync(wanted.trust.trusted_root)
    subjects = signed_subjects(index_digest, entries, sbom_images)
    digests = list(dict.fromkeys(digest for _, digest, _ in subjects))
    found = await run_all(
        [partial(_checked, client, repository, d, (wanted.policy, root)) for d in digests]
    )
    checked = dict(zip(digests, found, strict=True))
    return [
        _verdict(what, digest, kind, checked[digest], wanted.policy)
        for what, digest, kind in subjects
    ]
