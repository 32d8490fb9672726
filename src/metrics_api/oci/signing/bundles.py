"""Sigstore bundles stored as OCI 1.1 referrers of the manifest they sign, as cosign v3 does.

Each bundle is an artifact manifest (artifact type: the bundle v0.3 media type; an empty
config; the bundle as its one layer) whose ``subject`` is the signed manifest.
A registry with the referrers API lists it by itself; one without it (distribution 2.8
and v3) is told through the spec's fallback tag ``sha256-<hex>``: an index of the
referrers, to which a new one is added and from which nothing is ever removed.
"""

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Final

from metrics_api.oci.concurrency import run_all
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.registry.referrers import add_to_fallback, fallback_tag, find_referrers
from metrics_api.oci.spec import media_types
from metrics_api.oci.spec.digest import compute_digest
from metrics_api.oci.spec.models import Descriptor, ImageIndex, ImageManifest
from metrics_api.oci.spec.reference import Reference
from metrics_api.oci.spec.times import rfc3339

BUNDLE: Final = "application/vnd.dev.sigstore.bundle.v0.3+json"
EMPTY: Final = "application/vnd.oci.empty.v1+json"
EMPTY_CONFIG: Final = b"{}"
# What cosign v3 annotates its bundle manifests with (pkg/oci/remote/write.go).
BUNDLE_CONTENT: Final = "dev.sigstore.bundle.content"
BUNDLE_PREDICATE_TYPE: Final = "dev.sigstore.bundle.predicateType"
# The predicate of the statement ``cosign sign`` signs for an image in a bundle.
COSIGN_SIGN: Final = "https://sigstore.dev/cosign/sign/v1"
IN_TOTO_STATEMENT: Final = "https://in-toto.io/Statement/v1"


def sign_statement(repository: Reference, digest: str) -> bytes:
    """The statement ``cosign sign`` signs for a manifest: its digest, an empty predicate.

    cosign leaves the subject unnamed; in-toto requires a name (sigstore-python checks),
    so it is the repository, as ``cosign attest`` names its subjects.
    """
    algorithm, _, hexdigits = digest.partition(":")
    statement = {
        "_type": IN_TOTO_STATEMENT,
        "subject": [{"name": repository.repository_name, "digest": {algorithm: hexdigits}}],
        "predicateType": COSIGN_SIGN,
        "predicate": {},
    }
    return json.dumps(statement, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Referrers:
    """The bundles about one manifest, and how its registry lists referrers."""

    bundles: tuple[bytes, ...]
    served: bool  # the referrers API; otherwise the fallback tag


async def _bundle_of(client: RegistryClient, repository: Reference, digest: str) -> bytes:
    manifest = await client.get_manifest(repository.with_digest(digest))
    document = manifest.document
    layers = document.layers if isinstance(document, ImageManifest) else ()
    layer = next((layer for layer in layers if layer.media_type == BUNDLE), None)
    return b"" if layer is None else await client.get_blob(repository, layer.digest)


async def read_bundles(client: RegistryClient, repository: Reference, digest: str) -> Referrers:
    """Every Sigstore bundle referring to ``digest``: by the API, else the fallback tag."""
    listed = await find_referrers(client, repository, digest)
    served = listed is not None
    if listed is None:
        fallback = await client.find_manifest(fallback_tag(repository, digest))
        document = fallback.document if fallback else None
        listed = list(document.manifests) if isinstance(document, ImageIndex) else []
    wanted = [entry.digest for entry in listed if entry.artifact_type == BUNDLE]
    found = await run_all([partial(_bundle_of, client, repository, d) for d in wanted])
    return Referrers(tuple(found), served)


def _bundle_manifest(subject: Descriptor, bundle: bytes, predicate_type: str) -> bytes:
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_types.OCI_MANIFEST,
        "artifactType": BUNDLE,
        "config": {
            "mediaType": EMPTY,
            "digest": compute_digest(EMPTY_CONFIG),
            "size": len(EMPTY_CONFIG),
        },
        "layers": [{"mediaType": BUNDLE, "digest": compute_digest(bundle), "size": len(bundle)}],
        "subject": {
            "mediaType": subject.media_type,
            "digest": subject.digest,
            "size": subject.size,
        },
        "annotations": {
            media_types.OCI_CREATED: rfc3339(time.time()),
            BUNDLE_CONTENT: "dsse-envelope",
            BUNDLE_PREDICATE_TYPE: predicate_type,
        },
    }
    return json.dumps(manifest, separators=(",", ":")).encode()


async def attach_bundles(
    client: RegistryClient,
    repository: Reference,
    subject: Descriptor,
    bundles: Sequence[tuple[bytes, str]],
    found: Referrers,
) -> list[str]:
    """Store each (bundle, predicate type) as a referrer of ``subject``; their digests.

    Without the referrers API the fallback tag gets them too, added to what it holds now.
    """
    raws = [_bundle_manifest(subject, bundle, kind) for bundle, kind in bundles]
    blobs = [EMPTY_CONFIG, *(bundle for bundle, _ in bundles)]
    # The bundles are new (each signed just now); only the empty config may be there.
    await run_all(
        [
            partial(client.put_blob, repository, blob, look_first=blob == EMPTY_CONFIG)
            for blob in blobs
        ]
    )
    digests = [compute_digest(raw) for raw in raws]
    await run_all(
        [
            partial(client.put_manifest, repository.with_digest(d), raw, media_types.OCI_MANIFEST)
            for d, raw in zip(digests, raws, strict=True)
        ]
    )
    if not found.served:
        added = [
            Descriptor(
                media_type=media_types.OCI_MANIFEST,
                digest=d,
                size=len(raw),
                artifact_type=BUNDLE,
                annotations={BUNDLE_PREDICATE_TYPE: kind},
            )
            for d, raw, (_, kind) in zip(digests, raws, bundles, strict=True)
        ]
        await add_to_fallback(client, fallback_tag(repository, subject.digest), added)
    return digests
