"""Platforms, and matching them the way a pulling client does.

containerd (and so ``docker pull --platform``) normalises before comparing: ``aarch64``
is ``arm64``, ``x86_64`` is ``amd64``, and ``arm64`` with no variant means ``arm64/v8``.
"""

from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from metrics_api.oci.errors import InvalidInputError

_ARCH_ALIASES: Final = {"aarch64": "arm64", "x86_64": "amd64", "x86-64": "amd64", "armhf": "arm"}
_DEFAULT_VARIANTS: Final = {"arm64": "v8", "arm": "v7"}
ATTESTATION_PLATFORM: Final = ("unknown", "unknown")


class Platform(BaseModel):
    """image-spec ``platform``: ``architecture`` and ``os`` required, the rest optional."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore", defer_build=True)

    architecture: str
    os: str
    os_version: str | None = Field(default=None, alias="os.version")
    os_features: tuple[str, ...] | None = Field(default=None, alias="os.features")
    variant: str | None = None

    def normalized(self) -> tuple[str, str, str]:
        """(os, architecture, variant) as containerd compares them."""
        architecture = _ARCH_ALIASES.get(self.architecture, self.architecture)
        variant = self.variant or _DEFAULT_VARIANTS.get(architecture, "")
        if architecture == "arm64" and variant == "8":
            variant = "v8"
        return (self.os, architecture, variant)

    def matches(self, other: "Platform") -> bool:
        """True when a client asking for ``self`` would take an image of ``other``."""
        return self.normalized() == other.normalized()

    @property
    def is_attestation(self) -> bool:
        """Docker gives its attestation manifests the platform ``unknown/unknown``."""
        return (self.os, self.architecture) == ATTESTATION_PLATFORM

    def __str__(self) -> str:
        text = f"{self.os}/{self.architecture}"
        return f"{text}/{self.variant}" if self.variant else text

    def to_json(self) -> dict[str, object]:
        """The spec's JSON form, with spec key order and no empty optional fields."""
        result: dict[str, object] = {"architecture": self.architecture, "os": self.os}
        if self.os_version:
            result["os.version"] = self.os_version
        if self.os_features:
            result["os.features"] = list(self.os_features)
        if self.variant:
            result["variant"] = self.variant
        return result


def parse_platform(text: str) -> Platform:
    """Parse ``os/architecture[/variant]`` or explain the expected form."""
    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise InvalidInputError(
            f"expected a platform of the form os/architecture[/variant] "
            f"(for example linux/arm64 or linux/arm/v7), found {text!r}"
        )
    os_name, architecture, *rest = parts
    # Strings already, nothing to validate: constructed, the model's validator is built
    # later (``deferred_models``), not before the command line's first request.
    return Platform.model_construct(
        os=os_name, architecture=architecture, variant=rest[0] if rest else None
    )
