"""`release`'s orchestration for real: buildah stands in for Dagger's build and publish."""

import time

import anyio
import anyio.to_thread
import pytest
from support.containers import ContainersEnv
from support.docker29 import manifest_digest
from support.images import build_tiny_image, push
from support.registry import Registry

from metrics_api.oci import ResolutionError, Settings, TagConflictError
from metrics_api.release import (
    DEFAULT_VARIANTS,
    ReleaseReport,
    VariantPlan,
    parse_variant_table,
    release,
)

pytestmark = pytest.mark.integration


class BuildahPublisher:
    """Builds a tiny image for the plan's platform and pushes it, as `Container.publish` does."""

    def __init__(self, containers: ContainersEnv) -> None:
        self.containers = containers
        self.spans: list[tuple[float, float]] = []
        self.returned: dict[str, str] = {}

    async def __call__(self, plan: VariantPlan, address: str) -> str:
        started = time.monotonic()
        digest = await anyio.to_thread.run_sync(self._build_and_push, plan, address)
        self.spans.append((started, time.monotonic()))
        pinned = f"{address}@{digest}"
        self.returned[str(plan.platform)] = pinned
        return pinned

    def _build_and_push(self, plan: VariantPlan, address: str) -> str:
        name = f"release-{plan.platform.architecture}-{time.monotonic_ns()}"
        build_tiny_image(
            self.containers, name, plan.platform.architecture, variant=plan.platform.variant
        )
        return push(self.containers, name, address)


def run_release(
    registry: Registry,
    publish: BuildahPublisher,
    version: str,
    *,
    push_registry: str = "",
    force: bool = False,
) -> ReleaseReport:
    async def job() -> ReleaseReport:
        return await release(
            parse_variant_table(DEFAULT_VARIANTS),
            publish,
            push_registry=push_registry or registry.host,
            registry=registry.host,
            repository="metrics-api",
            version=version,
            settings=Settings(use_docker_config=False),
            force=force,
        )

    return anyio.run(job)


def test_release_publishes_concurrently_and_assembles_from_the_recorded_digests(
    registry: Registry, containers: ContainersEnv
) -> None:
    publisher = BuildahPublisher(containers)
    report = run_release(registry, publisher, "v3.0.0")
    assert report.ok
    (_, first_end), (second_start, _) = sorted(publisher.spans)
    assert second_start < first_end, "the two variants were published one after the other"
    assert [p.reference for p in report.published] == [
        publisher.returned["linux/amd64"],
        publisher.returned["linux/arm64"],
    ]
    assert [p.reference.split("@")[0] for p in report.published] == [
        f"{registry.host}/metrics-api:v3.0.0-amd64",
        f"{registry.host}/metrics-api:v3.0.0-arm64",
    ]
    recorded = [p.digest for p in report.published]
    assert [entry.digest for entry in report.assembly.entries] == recorded
    verification = report.assembly.verification
    assert verification is not None
    assert verification.ok
    assert report.assembly.tag_action == "created"
    assert manifest_digest(registry.host, "metrics-api", "v3.0.0") == report.assembly.digest
    summary = report.summary()
    assert summary.startswith(f"release {registry.host}/metrics-api:v3.0.0: ok")
    assert "[ok] ledger linux/arm64" in summary


def test_release_through_an_alias_of_the_registry(
    registry: Registry, containers: ContainersEnv
) -> None:
    """Dagger pushes to `localhost:5000`, an alias of its registry service.

    The core reaches the same registry by the service's endpoint.
    """
    alias = registry.host.replace("127.0.0.1", "localhost")
    report = run_release(registry, BuildahPublisher(containers), "v3.1.0", push_registry=alias)
    assert report.ok
    assert report.published[0].reference.startswith(f"{alias}/metrics-api:v3.1.0-amd64@")
    assert report.target == f"{registry.host}/metrics-api:v3.1.0"


def test_a_rebuilt_variant_does_not_move_the_release_without_force(
    registry: Registry, containers: ContainersEnv
) -> None:
    first = run_release(registry, BuildahPublisher(containers), "v3.2.0")
    with pytest.raises(TagConflictError, match="left unchanged"):
        run_release(registry, BuildahPublisher(containers), "v3.2.0")
    assert manifest_digest(registry.host, "metrics-api", "v3.2.0") == first.assembly.digest
    moved = run_release(registry, BuildahPublisher(containers), "v3.2.0", force=True)
    assert moved.assembly.tag_action == "moved"
    assert manifest_digest(registry.host, "metrics-api", "v3.2.0") == moved.assembly.digest


class LyingPublisher(BuildahPublisher):
    """Reports the amd64 image's digest for every platform, like a mixed-up build log."""

    def __init__(self, containers: ContainersEnv) -> None:
        super().__init__(containers)
        self.amd64_pushed = anyio.Event()

    async def __call__(self, plan: VariantPlan, address: str) -> str:
        pinned = await super().__call__(plan, address)
        if plan.platform.architecture == "amd64":
            self.amd64_pushed.set()
            return pinned
        await self.amd64_pushed.wait()
        return address + "@" + self.returned["linux/amd64"].split("@")[1]


def test_a_digest_that_is_not_the_platforms_image_never_reaches_the_tag(
    registry: Registry, containers: ContainersEnv
) -> None:
    with pytest.raises(
        ResolutionError, match="declared linux/arm64, but its image configuration says linux/amd64"
    ):
        run_release(registry, LyingPublisher(containers), "v3.3.0")
    assert manifest_digest(registry.host, "metrics-api", "v3.3.0") is None
