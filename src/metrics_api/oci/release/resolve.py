"""Resolve a pushed variant to the one platform image manifest an index must reference.

A variant may be a flat image manifest, or (Docker 29 with provenance) an index that wraps
the image and an attestation manifest: exactly one runnable image must match the declared
platform, and the image's own configuration must agree, so an arm64 tag that holds an
amd64 build is caught here rather than on a consumer's machine.
"""

from functools import partial
from typing import NamedTuple

from metrics_api.oci.concurrency import both
from metrics_api.oci.errors import ResolutionError
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.release.attestations import Attestation, fetch_attestations
from metrics_api.oci.spec import media_types
from metrics_api.oci.spec.models import (
    Descriptor,
    ImageConfig,
    ImageIndex,
    ImageManifest,
    Manifest,
    parse_config,
)
from metrics_api.oci.spec.platform import Platform
from metrics_api.oci.spec.reference import Reference


class ResolvedVariant(NamedTuple):
    """One platform image: where it came from, its exact manifest and its configuration."""

    declared: Platform
    source: Reference
    manifest: Manifest
    config: ImageConfig
    wrapper_digest: str | None  # the Docker-29-style index it was unwrapped from, if any
    # Its attestation manifests from that index, when they were asked for (kept).
    attestations: tuple[Attestation, ...] = ()

    @property
    def image(self) -> ImageManifest:
        """The parsed image manifest."""
        assert isinstance(self.manifest.document, ImageManifest)  # noqa: S101 - set by resolve
        return self.manifest.document

    @property
    def platform(self) -> Platform:
        """The platform from the image configuration (variant and os.version kept)."""
        return self.config.platform

    @property
    def pinned(self) -> Reference:
        """The source repository pinned to the image manifest's digest."""
        return self.source.with_digest(self.manifest.digest)


def _describe_entries(index: ImageIndex) -> str:
    return (
        ", ".join(
            f"{entry.platform or 'no platform'} {entry.digest}"
            + (" (attestation)" if entry.is_attestation else "")
            + ("" if entry.media_type in media_types.IMAGE_MANIFESTS else f" ({entry.media_type})")
            for entry in index.manifests
        )
        or "none"
    )


def select_image(index: ImageIndex, declared: Platform, where: str) -> Descriptor:
    """The one runnable image entry of ``index`` for ``declared``; attestations skipped."""
    images = [entry for entry in index.manifests if entry.is_image]
    matching = [e for e in images if e.platform is not None and declared.matches(e.platform)]
    if not matching and len(images) == 1 and images[0].platform is None:
        matching = images  # a lone image without a platform field: its config decides
    if len(matching) == 1:
        return matching[0]
    found = "none" if not matching else f"{len(matching)} ({', '.join(e.digest for e in matching)})"
    raise ResolutionError(
        f"{where}: expected exactly one image for {declared} in this index (attestation "
        f"manifests are skipped), found {found}; its entries: {_describe_entries(index)}. "
        + (
            f"Build and push the variant for {declared}, or declare the platform it was built for"
            if not matching
            else "Push a single image per platform tag, or pin the variant by its image digest"
        )
    )


async def resolve_variant(
    client: RegistryClient, source: Reference, declared: Platform, *, attestations: bool = False
) -> ResolvedVariant:
    """Find the image manifest that ``source`` provides for ``declared`` and check it.

    ``attestations``: also fetch the attestation manifests its index lists for the image.
    """
    if not source.manifest_reference:
        raise ResolutionError(
            f"variant {source} for {declared}: expected a tag or a digest, found neither; "
            f"write it as {source}:TAG or {source}@sha256:..."
        )
    top = await client.get_manifest(source)
    manifest, wrapper = top, None
    if isinstance(top.document, ImageIndex):
        entry = select_image(top.document, declared, f"variant {source}")
        manifest = await client.get_manifest(source.with_digest(entry.digest))
        wrapper = top.digest
        if manifest.size != entry.size or isinstance(manifest.document, ImageIndex):
            raise ResolutionError(
                f"variant {source}: the index entry for {declared} says an image manifest of "
                f"{entry.size} bytes, found a {manifest.media_type} of {manifest.size} bytes; "
                "the index is corrupt: push the variant again"
            )
    assert isinstance(manifest.document, ImageManifest)  # noqa: S101 - narrowed above
    config_descriptor = manifest.document.config
    if config_descriptor.media_type not in media_types.IMAGE_CONFIGS:
        raise ResolutionError(
            f"variant {source}: expected an image configuration "
            f"({', '.join(sorted(media_types.IMAGE_CONFIGS))}), "
            f"found {config_descriptor.media_type}; "
            "an artifact is not a runnable image"
        )
    wrapped = top if attestations and wrapper else None

    async def attached() -> tuple[Attestation, ...]:
        if wrapped is None:
            return ()
        return await fetch_attestations(client, source, wrapped, manifest.digest)

    raw_config, kept = await both(
        partial(client.get_blob, source, config_descriptor.digest), attached
    )
    config = parse_config(raw_config, f"variant {source} configuration")
    if not declared.matches(config.platform):
        raise ResolutionError(
            f"variant {source} was declared {declared}, but its image configuration says "
            f"{config.platform}; it was built for the wrong platform: rebuild it "
            f"for {declared}, or fix the declaration"
        )
    return ResolvedVariant(
        declared=declared,
        source=source,
        manifest=manifest,
        config=config,
        wrapper_digest=wrapper,
        attestations=kept,
    )
