"""Buildah standing in for the engine's build in release-job tests, and registry snapshots.

``BuildahStager`` pushes a prebuilt tiny image per platform to the staging registry, as the
Dagger module's build would; ``snapshot`` hashes every file a test registry stores, so a
test proves "writes nothing" by comparing two.
"""

import hashlib
from pathlib import Path

import anyio.to_thread

from metrics_api.oci.release.job import VariantPlan

from .containers import ContainersEnv
from .images import build_tiny_image, push
from .registry import Registry


class BuildFailedError(RuntimeError):
    """What a failing `RUN` in a Dockerfile is to the release job."""


class BuildahStager:
    """Pushes a prebuilt tiny image per platform to the staging registry, as Dagger would."""

    def __init__(
        self, containers: ContainersEnv, failing: str = "", *, packaged: bool = False
    ) -> None:
        """``packaged``: the images hold Debian packages (an SBOM lists them)."""
        self.containers = containers
        self.images: dict[str, str] = {}
        self.failing = failing
        self.packaged = packaged
        self.staged: dict[str, str] = {}

    def rebuild(self, plan: VariantPlan) -> None:
        """A new build of the variant: same platform, new content, new digest."""
        name = f"release-{plan.platform.architecture}-{len(self.images)}-{id(self)}"
        self.images[str(plan.platform)] = build_tiny_image(
            self.containers,
            name,
            plan.platform.architecture,
            variant=plan.platform.variant,
            packaged=self.packaged,
        )

    async def __call__(self, plan: VariantPlan, address: str) -> str:
        if str(plan.platform) == self.failing:
            msg = f"building {address} failed: RUN exited 1"
            raise BuildFailedError(msg)
        if str(plan.platform) not in self.images:
            await anyio.to_thread.run_sync(self.rebuild, plan)
        image = self.images[str(plan.platform)]
        digest = await anyio.to_thread.run_sync(push, self.containers, image, address)
        self.staged[str(plan.platform)] = digest
        return f"{address}@{digest}"


def snapshot(registry: Registry) -> dict[str, str]:
    """Every file the registry stores, by path, with the hash of its bytes."""
    return {
        str(path.relative_to(registry.storage_dir)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(Path(registry.storage_dir).rglob("*"))
        if path.is_file()
    }
