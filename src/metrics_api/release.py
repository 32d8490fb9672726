"""The release job without the engine: publish every variant, then assemble from digests.

The Dagger module hands in a ``publish`` callable that builds and pushes one variant and
returns its digest-pinned reference; tests hand in one that pushes real images with
buildah. Everything after the pushes is the core's, so it is the same in both.
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial

from pydantic import BaseModel, ConfigDict

from metrics_api.oci import jobs
from metrics_api.oci.concurrency import run_all
from metrics_api.oci.digest import validate_digest
from metrics_api.oci.errors import InvalidInputError, OciError
from metrics_api.oci.platform import Platform, parse_platform
from metrics_api.oci.reference import parse_reference
from metrics_api.oci.reports import AssembleReport

DEFAULT_VARIANTS = ("linux/amd64=app-amd64", "linux/arm64=app-arm64")


@dataclass(frozen=True)
class VariantPlan:
    """One row of the variant table: a platform, its source folder and its Dockerfile."""

    platform: Platform
    directory: str
    dockerfile: str = "Dockerfile"


def parse_variant_table(entries: Sequence[str]) -> list[VariantPlan]:
    """Parse ``PLATFORM=DIR[:DOCKERFILE]`` rows; a third platform is one more row."""
    plans = []
    for entry in entries:
        platform, sep, location = entry.partition("=")
        directory, _, dockerfile = location.partition(":")
        if not sep or not platform or not directory:
            raise InvalidInputError(
                f"expected a variant as PLATFORM=DIR[:DOCKERFILE] (linux/arm64=app-arm64), "
                f"found {entry!r}"
            )
        plans.append(VariantPlan(parse_platform(platform), directory, dockerfile or "Dockerfile"))
    if not plans:
        raise InvalidInputError(
            "expected at least one variant (PLATFORM=DIR[:DOCKERFILE]), found none"
        )
    return plans


def variant_tag(version: str, platform: Platform) -> str:
    """The per-platform tag: ``v2.0.0-arm64`` (``v2.0.0-arm-v7`` when there is a variant)."""
    suffix = platform.architecture + (f"-{platform.variant}" if platform.variant else "")
    return f"{version}-{suffix}"


class PublishedVariant(BaseModel):
    """A variant as pushed: the ledger line recorded from the push itself."""

    model_config = ConfigDict(frozen=True)

    platform: str
    reference: str  # as the build tool reported it: REGISTRY/REPO:TAG@DIGEST
    digest: str


class ReleaseReport(BaseModel):
    """Everything a release did, as `dagger call release` reports it."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    target: str
    published: list[PublishedVariant]
    assembly: AssembleReport

    def summary(self) -> str:
        """A readable summary for CI logs."""
        lines = [f"release {self.target}: {'ok' if self.ok else 'FAILED'}"]
        lines.extend(f"  pushed {v.platform}: {v.reference}" for v in self.published)
        return "\n".join([*lines, self.assembly.text()])


Publish = Callable[[VariantPlan, str], Awaitable[str]]


async def _publish_one(publish: Publish, plan: VariantPlan, address: str) -> PublishedVariant:
    pinned = await publish(plan, address)
    _, _, digest = pinned.partition("@")
    try:
        validate_digest(digest)
    except InvalidInputError:
        raise OciError(
            f"publishing {address}: expected the build tool to return REFERENCE@sha256:..., "
            f"found {pinned!r}"
        ) from None
    return PublishedVariant(platform=str(plan.platform), reference=pinned, digest=digest)


async def release(  # noqa: PLR0913 - mirrors `dagger call release`
    plans: Sequence[VariantPlan],
    publish: Publish,
    *,
    push_registry: str,
    registry: str,
    repository: str,
    version: str,
    settings: jobs.Settings,
    annotations: dict[str, str] | None = None,
    source_date_epoch: str | None = None,
    force: bool = False,
    dry_run: bool = False,
) -> ReleaseReport:
    """Publish each variant concurrently, then assemble ``REPO:VERSION`` from their digests.

    ``push_registry`` is the registry name the build tool pushes to and ``registry`` the
    one this process reaches it by (they differ for a registry service inside Dagger).
    """
    target = parse_reference(f"{registry}/{repository}:{version}")
    addresses = [f"{push_registry}/{repository}:{variant_tag(version, p.platform)}" for p in plans]
    for address in addresses:
        parse_reference(address)  # a bad registry or version fails before any build
    published = await run_all(
        [partial(_publish_one, publish, p, a) for p, a in zip(plans, addresses, strict=True)]
    )
    requests = [
        jobs.VariantRequest(
            platform=plan.platform,
            reference=target.with_digest(variant.digest),
            expected_digest=variant.digest,
        )
        for plan, variant in zip(plans, published, strict=True)
    ]
    async with jobs.open_client(settings) as client:
        assembly = await jobs.assemble(
            client,
            str(target),
            requests,
            annotations=annotations,
            source_date_epoch=source_date_epoch,
            force=force,
            dry_run=dry_run,
        )
    return ReleaseReport(ok=assembly.ok, target=str(target), published=published, assembly=assembly)
