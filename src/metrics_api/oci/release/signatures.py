"""What a release signs: its index, each platform image, and each image's statements.

The subjects come from the index the release built and the variants it resolved, so they
are known before anything is written; the statements are the in-toto layers of each
variant's attestation manifests (its provenance, and an SBOM a builder attached), signed
as the DSSE attestations ``cosign attest`` stores.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial

import anyio

from metrics_api.oci.concurrency import both, run_all
from metrics_api.oci.errors import OciError, with_note
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.release.resolve import ResolvedVariant
from metrics_api.oci.signing.cosign_format import IN_TOTO
from metrics_api.oci.signing.keyless_store import (
    KeylessPlan,
    KeylessSigning,
    plan_keyless,
    write_keyless,
)
from metrics_api.oci.signing.store import (
    Draft,
    PreparedTag,
    Signer,
    SigningPlan,
    Subject,
    commit_signing,
    confirm_signing,
    describe,
    draft_signatures,
    draft_signing,
    look_at_tags,
    plan_signing,
    settle_signing,
    signed_lines,
)
from metrics_api.oci.spec.models import ImageManifest, Manifest
from metrics_api.oci.spec.reference import Reference


def connections_to_sign(platforms: int) -> int:
    """The connections a release's key signing uses at once beside the index's write.

    For the index and each image: its signature's payload and configuration uploads and
    its tag's look, sent together.
    """
    return 3 * (platforms + 1)


async def _statements(client: RegistryClient, variant: ResolvedVariant) -> tuple[bytes, ...]:
    """Its attestations' statements, each read where its attestation was found.

    A kept published attestation is in the target, not in this run's staging registry.
    """
    layers = [
        (attestation.source, layer.digest)
        for attestation in variant.attestations
        if isinstance(attestation.manifest.document, ImageManifest)
        for layer in attestation.manifest.document.layers
        if layer.media_type == IN_TOTO
    ]
    fetched = await run_all([partial(client.get_blob, where, d) for where, d in layers])
    return tuple(fetched)


@dataclass(frozen=True)
class ReleaseSigning:
    """The check's reading of what a release signs: by key, keyless, or both."""

    key: SigningPlan | None = None
    keyless: KeylessPlan | None = None

    @property
    def writes(self) -> bool:
        """Whether signing may write: keyless may until its certificate says who signs."""
        return (self.key is not None and self.key.writes) or self.keyless is not None

    def planned(self, *, done: bool) -> list[str]:
        """The key's report lines; keyless ones too in a dry run (a write reports its own)."""
        key = self.key
        lines = [describe(tag, key.key_id, done=done) for tag in key.tags] if key else []
        return lines + (self.keyless.planned() if self.keyless and not done else [])


@dataclass(frozen=True)
class SigningOutcome:
    """What signing wrote, and what keyless signing found and did (report lines)."""

    written: list[str]
    keyless: list[str]


@dataclass(frozen=True)
class UnreadSigning:
    """A release's signing whose check reads beside the index's write (``assemble``).

    Its signature tags can only be read once the index is built; read then, beside the
    index's PUT, with the key's signatures made and uploaded meanwhile as if new.
    """

    client: RegistryClient
    target: Reference
    index: Manifest
    variants: Sequence[ResolvedVariant]
    signer: Signer | None
    keyless: KeylessSigning | None

    @property
    def digests(self) -> tuple[str, ...]:
        """The index's and each image's: what gets a signature."""
        return (self.index.digest, *(variant.manifest.digest for variant in self.variants))

    async def read(self) -> ReleaseSigning | None:
        """The check: what the signature tags and bundles hold now."""
        return await plan_release_signing(
            self.client, self.target, self.index, self.variants, self.signer, keyless=self.keyless
        )


async def ready_release_signing(
    client: RegistryClient, signing: "ReleaseSigning | UnreadSigning", stored: anyio.Event
) -> tuple[ReleaseSigning | None, list[PreparedTag]]:
    """The key's signatures made and uploaded, each tag looked at last once ``stored`` is set.

    Runs beside the index's write and verification: blobs are invisible until a manifest
    names them. Keyless signing waits for the verification: a log entry is public.
    """

    async def read_and_look() -> tuple[ReleaseSigning | None, list[Manifest | None]]:
        read = await signing.read() if isinstance(signing, UnreadSigning) else signing
        await stored.wait()
        return read, await look_at_tags(client, read.key) if read and read.key else []

    async def draft() -> list[Draft]:
        if isinstance(signing, UnreadSigning):
            if signing.signer is None:
                return []
            return await draft_signatures(client, signing.target, signing.digests, signing.signer)
        return await draft_signing(client, signing.key) if signing.key else []

    (read, latest), drafts = await both(read_and_look, draft)
    if read is None or read.key is None:
        return read, []
    prepared = await settle_signing(client, read.key, drafts, latest)
    # What each tag held at its last look, for the report: another signer may have written.
    settled = {str(tag.plan.tag): tag.plan for tag in prepared}
    tags = tuple(settled.get(str(tag.tag), tag) for tag in read.key.tags)
    return replace(read, key=replace(read.key, tags=tags)), prepared


async def commit_release_signing(
    client: RegistryClient, signing: ReleaseSigning, prepared: list[PreparedTag]
) -> SigningOutcome:
    """Once the index verified: the key's manifests PUT, and keyless signing done whole."""
    await commit_signing(client, prepared)
    written = signed_lines(signing.key, prepared) if signing.key else []
    if signing.keyless is None:
        return SigningOutcome(written, [])
    try:
        keyless = await write_keyless(client, signing.keyless)
    except OciError as error:
        if not written:
            raise
        raise with_note(error, f"stored before it: {', '.join(written)}") from error
    return SigningOutcome(written + keyless.written, keyless.report)


async def write_release_signing(client: RegistryClient, signing: ReleaseSigning) -> SigningOutcome:
    """Every missing signature, key and keyless, in one go (an identical re-run's)."""
    stored = anyio.Event()
    stored.set()  # the index is there already
    _, prepared = await ready_release_signing(client, signing, stored)
    outcome = await commit_release_signing(client, signing, prepared)
    await confirm_signing(client, prepared)
    return outcome


async def plan_release_signing(  # noqa: PLR0913 - the release, and who signs it
    client: RegistryClient,
    target: Reference,
    index: Manifest,
    variants: Sequence[ResolvedVariant],
    signer: Signer | None,
    *,
    keyless: KeylessSigning | None = None,
) -> ReleaseSigning | None:
    """Read the signatures and bundles of the index and each image (the check: no write).

    None when there is neither ``signer`` nor ``keyless``: the release is not signed.
    """
    if signer is None and keyless is None:
        return None
    statements = await run_all([partial(_statements, client, v) for v in variants])
    subjects = [
        Subject("index", index.descriptor()),
        *(
            Subject(f"{v.declared} image", v.manifest.descriptor(), found)
            for v, found in zip(variants, statements, strict=True)
        ),
    ]
    key = await plan_signing(client, target, subjects, signer) if signer is not None else None
    planned = await plan_keyless(client, target, subjects, keyless) if keyless else None
    return ReleaseSigning(key, planned)
