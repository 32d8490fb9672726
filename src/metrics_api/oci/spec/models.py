"""OCI and Docker v2 manifest models that keep the exact bytes they were parsed from.

Field names mirror image-spec v1.1.1 (``mediaType``, ``os.version``); unknown fields are
kept rather than rejected, because registries and builders add their own.
"""

import json
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from metrics_api.oci.errors import InvalidInputError
from metrics_api.oci.spec import media_types
from metrics_api.oci.spec.digest import compute_digest, validate_digest
from metrics_api.oci.spec.platform import Platform


class _SpecModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        extra="allow",
        defer_build=True,
    )


class Descriptor(_SpecModel):
    """image-spec ``descriptor``: what to fetch, how big it is, and what it hashes to."""

    media_type: str
    digest: str
    size: int = Field(ge=0)
    urls: tuple[str, ...] | None = None
    annotations: dict[str, str] | None = None
    platform: Platform | None = None
    artifact_type: str | None = None

    @field_validator("digest")
    @classmethod
    def _digest_is_valid(cls, value: str) -> str:
        return validate_digest(value)

    @property
    def is_attestation(self) -> bool:
        """True for Docker's provenance/SBOM entries, which are not runnable images."""
        annotations = self.annotations or {}
        if annotations.get(media_types.DOCKER_REFERENCE_TYPE) == media_types.ATTESTATION_MANIFEST:
            return True
        return self.platform is not None and self.platform.is_attestation

    @property
    def is_image(self) -> bool:
        """True for a runnable image manifest entry."""
        return self.media_type in media_types.IMAGE_MANIFESTS and not self.is_attestation


class ImageManifest(_SpecModel):
    """image-spec ``manifest`` (and Docker v2 schema 2, which has the same shape)."""

    schema_version: Literal[2]
    media_type: str | None = None
    config: Descriptor
    layers: tuple[Descriptor, ...]
    annotations: dict[str, str] | None = None

    @property
    def blob_digests(self) -> list[str]:
        """The digests of its configuration and its layers, each once."""
        return list(dict.fromkeys([self.config.digest, *(layer.digest for layer in self.layers)]))


class ImageIndex(_SpecModel):
    """image-spec ``index`` (and Docker's manifest list)."""

    schema_version: Literal[2]
    media_type: str | None = None
    manifests: tuple[Descriptor, ...]
    annotations: dict[str, str] | None = None


class ImageConfigDetails(BaseModel):
    """The ``config`` object inside an image configuration; only labels matter here."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True, defer_build=True)

    labels: dict[str, str] | None = Field(default=None, alias="Labels")


class ImageConfig(BaseModel):
    """image-spec ``config``: the platform an image was really built for, its labels and time."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True, defer_build=True)

    architecture: str
    os: str
    variant: str | None = None
    os_version: str | None = Field(default=None, alias="os.version")
    os_features: tuple[str, ...] | None = Field(default=None, alias="os.features")
    config: ImageConfigDetails | None = None
    created: str | None = None

    @property
    def platform(self) -> Platform:
        """The platform this configuration declares, all optional fields kept."""
        return Platform(
            architecture=self.architecture,
            os=self.os,
            variant=self.variant or None,
            os_version=self.os_version or None,
            os_features=self.os_features or None,
        )

    @property
    def labels(self) -> dict[str, str]:
        """The image's labels (empty when it has none)."""
        return (self.config.labels if self.config else None) or {}


class Manifest(NamedTuple):
    """A manifest or index exactly as stored: its bytes, media type and digest."""

    raw: bytes
    media_type: str
    digest: str
    document: ImageManifest | ImageIndex
    content_type: str = ""  # the Content-Type the registry sent, empty when built locally

    @property
    def size(self) -> int:
        """The size of the stored bytes."""
        return len(self.raw)

    def descriptor(self, platform: Platform | None = None) -> Descriptor:
        """A descriptor pointing at these exact bytes."""
        return Descriptor(
            media_type=self.media_type, digest=self.digest, size=self.size, platform=platform
        )


def parse_manifest(raw: bytes, content_type: str | None, where: str) -> Manifest:
    """Parse stored manifest bytes; the digest is over ``raw`` as received."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidInputError(
            f"{where}: expected a JSON manifest, found bytes that are not JSON ({error})"
        ) from None
    if not isinstance(body, dict):
        raise InvalidInputError(f"{where}: expected a JSON object, found {type(body).__name__}")
    header_type = (content_type or "").split(";", 1)[0].strip()
    media_type = body.get("mediaType") or header_type
    model: type[ImageManifest | ImageIndex]
    if media_type in media_types.INDEXES or (not media_type and "manifests" in body):
        model, media_type = ImageIndex, media_type or media_types.OCI_INDEX
    elif media_type in media_types.IMAGE_MANIFESTS or (not media_type and "config" in body):
        model, media_type = ImageManifest, media_type or media_types.OCI_MANIFEST
    else:
        raise InvalidInputError(
            f"{where}: expected an image manifest or index ({media_types.MANIFEST_ACCEPT}), "
            f"found media type {media_type!r}; schema 1 and artifact-only manifests cannot "
            "be part of a multi-platform image"
        )
    try:
        document = model.model_validate(body)
    except ValidationError as error:
        raise InvalidInputError(
            f"{where}: {media_type} does not follow the OCI image spec: "
            f"{error.errors()[0]['loc']} {error.errors()[0]['msg']}"
        ) from None
    return Manifest(
        raw=raw,
        media_type=media_type,
        digest=compute_digest(raw),
        document=document,
        content_type=header_type,
    )


def parse_config(raw: bytes, where: str) -> ImageConfig:
    """Parse an image configuration blob."""
    try:
        return ImageConfig.model_validate_json(raw)
    except ValidationError as error:
        raise InvalidInputError(
            f"{where}: expected an image configuration with 'architecture' and 'os', "
            f"found: {error.errors()[0]['loc']} {error.errors()[0]['msg']}"
        ) from None
