"""The registry implementations the integration suite runs against, and how they differ.

Three servers of the distribution API that users meet: CNCF distribution 2.8 (Debian's
``docker-registry``), distribution v3 (the ``registry:3`` image, which Dagger's embedded
registry runs) and go-containerregistry's in-memory registry (``crane registry serve``,
what many Go tools test against). The facts in ``RegistryKind`` are what
docs/registries.md records; tests/integration/test_registry_kinds.py checks each one, so
a new release that changes one fails there first.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from .go_tools import CRANE, DISTRIBUTION_V3, REFERRERS_REGISTRY, require_go_tool
from .registry import Registry, start_registry

if TYPE_CHECKING:
    from pathlib import Path


class DistributionV3Registry(Registry):
    """Distribution v3 (``registry serve CONFIG``), same configuration file as 2.8."""

    program = f"registry {DISTRIBUTION_V3.version} (distribution v3)"

    @classmethod
    def executable(cls) -> str:
        """The pinned ``registry`` binary."""
        return require_go_tool(DISTRIBUTION_V3)


class GgcrRegistry(Registry):
    """``crane registry serve``: everything in memory, so a restart starts empty."""

    program = f"crane {CRANE.version} registry serve"

    @classmethod
    def executable(cls) -> str:
        """The pinned ``crane`` binary."""
        return require_go_tool(CRANE)

    def _write_config(self) -> None:
        """Nothing to write: the address is an argument, and there is no storage."""

    def _command(self) -> list[str]:
        return [self.executable(), "registry", "serve", "--address", self.host]


class ReferrersRegistry(GgcrRegistry):
    """go-containerregistry's registry with the OCI 1.1 referrers API served.

    Not one of ``KINDS``: none of the three registries the suite runs everything against
    serves ``GET /v2/<name>/referrers/<digest>``, so the tests of referrers use this one.
    """

    program = "go-containerregistry registry with referrers (tests/support/referrers_registry)"

    @classmethod
    def executable(cls) -> str:
        """The binary built from tests/support/referrers_registry."""
        return require_go_tool(REFERRERS_REGISTRY)

    def _command(self) -> list[str]:
        return [self.executable(), "--address", self.host]


@dataclass(frozen=True)
class RegistryKind:
    """One implementation, and the behaviour in which it differs from the others."""

    name: str  # the pytest id
    registry_class: type[Registry]
    # A blob is visible only in the repositories it was pushed or mounted to (False: a
    # blob pushed anywhere is in every repository, so nothing needs mounting).
    blobs_per_repository: bool
    # ``POST .../blobs/uploads/?mount=D&from=R`` answers 201 (mounted); else 202, an
    # upload session.
    mounts_blobs: bool
    # The status and error code that refuse an index whose children are not in its own
    # repository.
    foreign_child_refusal: tuple[int, str]
    # ``PUT .../manifests/sha256:X`` of bytes that do not hash to X is refused.
    checks_pushed_digest: bool
    # An image manifest whose config or layers are not in the repository is refused.
    checks_manifest_blobs: bool
    # A manifest PUT with a Content-Type that is not a manifest type is refused (else it is
    # stored, and served back with that Content-Type).
    checks_content_type: bool
    # An OCI index is served to a GET or HEAD whose Accept does not name the index type.
    serves_index_to_any_accept: bool
    # Content survives a stop and start.
    persistent: bool

    def start(self, data_dir: Path | None = None) -> Registry:
        """A new running registry of this kind on a free loopback port."""
        return start_registry(data_dir, registry_class=self.registry_class)


DISTRIBUTION_2_8 = RegistryKind(
    name="distribution-2.8",
    registry_class=Registry,
    blobs_per_repository=True,
    mounts_blobs=True,
    foreign_child_refusal=(400, "MANIFEST_BLOB_UNKNOWN"),
    checks_pushed_digest=True,
    checks_manifest_blobs=True,
    checks_content_type=True,
    serves_index_to_any_accept=False,
    persistent=True,
)
DISTRIBUTION_3 = replace(  # as 2.8, but an index goes to any Accept
    DISTRIBUTION_2_8,
    name="distribution-3",
    registry_class=DistributionV3Registry,
    serves_index_to_any_accept=True,
)
GGCR = RegistryKind(
    name="ggcr",
    registry_class=GgcrRegistry,
    blobs_per_repository=False,
    mounts_blobs=False,
    foreign_child_refusal=(404, "MANIFEST_UNKNOWN"),
    checks_pushed_digest=False,
    checks_manifest_blobs=False,
    checks_content_type=False,
    serves_index_to_any_accept=True,
    persistent=False,
)
KINDS = {kind.name: kind for kind in (DISTRIBUTION_2_8, DISTRIBUTION_3, GGCR)}

__all__ = [
    "DISTRIBUTION_2_8",
    "DISTRIBUTION_3",
    "GGCR",
    "KINDS",
    "DistributionV3Registry",
    "GgcrRegistry",
    "ReferrersRegistry",
    "RegistryKind",
]
