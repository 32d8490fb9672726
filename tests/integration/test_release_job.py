"""`release` for real: plan, check, then write; buildah stands in for Dagger's build and push."""

import anyio
import pytest
from support.containers import ContainersEnv
from support.docker29 import manifest_digest
from support.registry import Registry
from support.release_runs import run_release as release_run
from support.stager import BuildahStager, BuildFailedError, snapshot

from metrics_api.oci import RegistryError, ResolutionError, Settings, TagConflictError
from metrics_api.oci.release.job import (
    DEFAULT_VARIANTS,
    Staging,
    VariantPlan,
    parse_variant_table,
    publish_variant,
)
from metrics_api.oci.release.release_reports import ReleasedVariant, ReleaseReport

pytestmark = pytest.mark.integration


def run_release(  # noqa: PLR0913 - the options a test varies
    staging: Registry,
    target: Registry,
    stage: BuildahStager,
    version: str = "v3.0.0",
    *,
    force: bool = False,
    dry_run: bool = False,
    push_host: str = "",
) -> ReleaseReport:
    return release_run(
        staging, target, stage, version=version, force=force, dry_run=dry_run, push_host=push_host
    )


def tag(target: Registry, name: str) -> str | None:
    return manifest_digest(target.host, "metrics-api", name)


def test_a_release_writes_images_then_the_index_then_the_tags(
    staging: Registry, target: Registry, containers: ContainersEnv
) -> None:
    stage = BuildahStager(containers)
    report = run_release(staging, target, stage)

    assert report.ok
    amd64, arm64 = stage.staged["linux/amd64"], stage.staged["linux/arm64"]
    index = report.assembly.digest
    assert [entry.digest for entry in report.assembly.entries] == [amd64, arm64]
    assert (tag(target, "v3.0.0"), tag(target, "v3.0.0-amd64"), tag(target, "v3.0.0-arm64")) == (
        index,
        amd64,
        arm64,
    )
    assert report.assembly.written == [
        f"linux/amd64 image {amd64} (copied)",
        f"linux/arm64 image {arm64} (copied)",
        f"index {index} by digest",
        f"tag {target.host}/metrics-api:v3.0.0-amd64 (created)",
        f"tag {target.host}/metrics-api:v3.0.0-arm64 (created)",
        f"tag {target.host}/metrics-api:v3.0.0 (created)",
    ]
    assert [v.reference for v in report.variants] == [
        f"{target.host}/metrics-api:v3.0.0-amd64@{amd64}",
        f"{target.host}/metrics-api:v3.0.0-arm64@{arm64}",
    ]
    summary = report.summary()
    assert summary.startswith(f"release {target.host}/metrics-api:v3.0.0: ok")
    assert f"  linux/arm64: {target.host}/metrics-api:v3.0.0-arm64@{arm64} (created)" in summary
    assert "[ok] ledger linux/arm64" in summary


def test_an_identical_rerun_writes_nothing(
    staging: Registry, target: Registry, containers: ContainersEnv
) -> None:
    stage = BuildahStager(containers)
    first = run_release(staging, target, stage)
    before = snapshot(target)

    again = run_release(staging, target, stage)

    assert snapshot(target) == before
    assert again.assembly.digest == first.assembly.digest
    assert again.assembly.tag_action == "unchanged"
    assert again.assembly.written == []
    assert [v.tag_action for v in again.variants] == ["unchanged", "unchanged"]
    assert "wrote nothing: the registry already held this release" in again.summary()


def test_a_release_that_would_move_a_tag_writes_nothing_without_force(
    staging: Registry, target: Registry, containers: ContainersEnv
) -> None:
    stage = BuildahStager(containers)
    first = run_release(staging, target, stage)
    stage.rebuild(parse_variant_table(DEFAULT_VARIANTS, "--variants")[0])  # the Go source changed
    before = snapshot(target)

    with pytest.raises(TagConflictError) as refused:
        run_release(staging, target, stage)

    assert snapshot(target) == before
    message = str(refused.value)
    assert f"{target.host}/metrics-api:v3.0.0 already points at {first.assembly.digest}" in message
    assert f"{target.host}/metrics-api:v3.0.0-amd64 already points at " in message
    assert "v3.0.0-arm64" not in message, "an unchanged tag is no conflict"
    assert message.endswith("nothing was written")

    moved = run_release(staging, target, stage, force=True)
    assert moved.assembly.tag_action == "moved"
    assert moved.assembly.previous_digest == first.assembly.digest
    assert [v.tag_action for v in moved.variants] == ["moved", "unchanged"]
    assert [w for w in moved.assembly.written if w.startswith("tag ")] == [
        f"tag {target.host}/metrics-api:v3.0.0-amd64 (moved)",
        f"tag {target.host}/metrics-api:v3.0.0 (moved)",
    ]
    assert tag(target, "v3.0.0-amd64") == stage.staged["linux/amd64"]
    assert tag(target, "v3.0.0") == moved.assembly.digest


def test_a_failing_build_leaves_the_target_untouched(
    staging: Registry, target: Registry, containers: ContainersEnv
) -> None:
    with pytest.raises(BuildFailedError):
        run_release(staging, target, BuildahStager(containers, failing="linux/arm64"))
    assert snapshot(target) == {}

    run_release(staging, target, BuildahStager(containers))
    before = snapshot(target)
    with pytest.raises(BuildFailedError):  # a conflicting tag too: the build fails first
        run_release(staging, target, BuildahStager(containers, failing="linux/amd64"))
    assert snapshot(target) == before


def test_the_dry_run_reads_the_real_target_and_writes_nothing(
    staging: Registry, target: Registry, containers: ContainersEnv
) -> None:
    stage = BuildahStager(containers)
    plan = run_release(staging, target, stage, dry_run=True)
    assert snapshot(target) == {}
    assert plan.assembly.tag_action == "dry-run"
    assert [v.tag_action for v in plan.variants] == ["created", "created"]
    assert plan.summary().startswith(f"release {target.host}/metrics-api:v3.0.0: dry run")
    assert "(would be created)" in plan.summary()

    real = run_release(staging, target, stage)
    assert real.assembly.digest == plan.assembly.digest, "the dry run planned this very index"

    stage.rebuild(parse_variant_table(DEFAULT_VARIANTS, "--variants")[1])
    before = snapshot(target)
    with pytest.raises(TagConflictError, match=r"v3\.0\.0-arm64 already points at "):
        run_release(staging, target, stage, dry_run=True)
    assert snapshot(target) == before

    target.stop()
    with pytest.raises(RegistryError, match=f"check that {target.host} is up"):
        run_release(staging, target, stage, dry_run=True)


def test_staging_through_an_alias_of_the_staging_registry(
    staging: Registry, target: Registry, containers: ContainersEnv
) -> None:
    """Dagger pushes to `localhost:5000`, an alias of its registry service.

    The core reaches the same registry by the service's endpoint.
    """
    alias = staging.host.replace("127.0.0.1", "localhost")
    report = run_release(staging, target, BuildahStager(containers), push_host=alias)
    assert report.ok
    assert report.target == f"{target.host}/metrics-api:v3.0.0"


class LyingStager(BuildahStager):
    """Reports the amd64 image's digest for every platform, like a mixed-up build log."""

    async def __call__(self, _plan: VariantPlan, address: str) -> str:
        return await super().__call__(
            parse_variant_table(DEFAULT_VARIANTS, "--variants")[0], address
        )


def test_a_digest_that_is_not_the_platforms_image_never_reaches_the_target(
    staging: Registry, target: Registry, containers: ContainersEnv
) -> None:
    with pytest.raises(
        ResolutionError, match="declared linux/arm64, but its image configuration says linux/amd64"
    ):
        run_release(staging, target, LyingStager(containers))
    assert snapshot(target) == {}


def run_publish_variant(
    staging: Registry, target: Registry, stage: BuildahStager, *, force: bool = False
) -> ReleasedVariant:
    """`publish-variant` for linux/amd64, the split-runner flow's write."""
    plan = parse_variant_table(DEFAULT_VARIANTS, "--variants")[0]

    async def job() -> ReleasedVariant:
        return await publish_variant(
            plan,
            stage,
            staging=Staging(push_host=staging.host, host=staging.host),
            registry=target.host,
            repository="metrics-api",
            version="v3.0.0",
            settings=Settings(use_docker_config=False),
            force=force,
        )

    return anyio.run(job)


def test_publish_variant_guards_its_tag_as_a_release_does(
    staging: Registry, target: Registry, containers: ContainersEnv
) -> None:
    released = run_release(staging, target, BuildahStager(containers))
    held = tag(target, "v3.0.0-amd64")
    stage = BuildahStager(containers)  # another build of the Go variant: another image
    before = snapshot(target)

    with pytest.raises(TagConflictError) as refused:
        run_publish_variant(staging, target, stage)

    assert snapshot(target) == before
    assert str(refused.value) == (
        "expected each tag to be absent or to hold what this release writes, found "
        f"{target.host}/metrics-api:v3.0.0-amd64 already points at {held}, this release "
        f"would make it {stage.staged['linux/amd64']}; nothing was written"
    )

    moved = run_publish_variant(staging, target, stage, force=True)
    new = stage.staged["linux/amd64"]
    assert (moved.tag_action, moved.previous_digest, moved.digest) == ("moved", held, new)
    assert moved.reference == f"{target.host}/metrics-api:v3.0.0-amd64@{new}"
    assert moved.outcome() == f"{target.host}/metrics-api:v3.0.0-amd64 moved from {held} to {new}"
    assert tag(target, "v3.0.0-amd64") == new
    assert tag(target, "v3.0.0") == released.assembly.digest, "only its own tag moved"

    after_move = snapshot(target)
    again = run_publish_variant(staging, target, stage)
    assert snapshot(target) == after_move
    assert (again.tag_action, again.digest) == ("unchanged", new)
    assert again.outcome().endswith(f"already held {new}: nothing written")


def test_publish_variant_creates_its_tag_on_an_empty_registry(
    staging: Registry, target: Registry, containers: ContainersEnv
) -> None:
    stage = BuildahStager(containers)
    published = run_publish_variant(staging, target, stage)
    digest = stage.staged["linux/amd64"]
    assert (published.tag_action, published.previous_digest) == ("created", None)
    assert tag(target, "v3.0.0-amd64") == digest
    assert published.outcome() == f"{target.host}/metrics-api:v3.0.0-amd64 created: {digest}"
