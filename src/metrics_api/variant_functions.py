"""The Dagger functions for one variant: build it, or build and publish it under its own tag."""

import sys
from typing import Annotated

import dagger
from dagger import Doc, function

from metrics_api.access import RegistryAccess
from metrics_api.arguments import (
    DEFAULT_DEADLINE,
    AttachProvenance,
    AttachSbom,
    BuildArgs,
    BuildPlatform,
    CaFile,
    Deadline,
    DockerConfig,
    Dockerfile,
    Insecure,
    Password,
    Registry,
    Repository,
    SbomScanner,
    SourceUrl,
    Username,
    VariantSource,
)
from metrics_api.builds import VariantBuilds
from metrics_api.embedded import embedded_registry
from metrics_api.oci.release import job as release_job
from metrics_api.oci.spec.platform import parse_platform
from metrics_api.pipeline_errors import core_errors
from metrics_api.registration import uncached
from metrics_api.scanner import DEFAULT_SCANNER


class VariantFunctions:
    """``build`` and ``publish-variant`` (part of the module's object, ``MetricsApi``)."""

    @function
    def build(
        self,
        source: VariantSource,
        platform: BuildPlatform,
        dockerfile: Dockerfile = "Dockerfile",
        build_args: BuildArgs = [],
        version: Annotated[str, Doc("version stamped into the image")] = "v2.0.0",
        revision: Annotated[str, Doc("source revision stamped into the image")] = "unknown",
        source_url: SourceUrl = "",
    ) -> dagger.Container:
        """Build one variant from its own folder and Dockerfile."""
        with core_errors():
            plan = release_job.VariantPlan(parse_platform(str(platform)), ".", dockerfile)
        builds = VariantBuilds.stamped(source, version, revision, build_args, source_url)
        return builds.container(plan)

    @uncached
    async def publish_variant(
        self,
        source: VariantSource,
        platform: BuildPlatform,
        registry: Registry,
        repository: Repository = "metrics-api",
        version: Annotated[str, Doc("release version; the tag is VERSION-ARCH")] = "v2.0.0",
        revision: Annotated[str, Doc("source revision stamped into the image")] = "unknown",
        dockerfile: Dockerfile = "Dockerfile",
        build_args: BuildArgs = [],
        source_url: SourceUrl = "",
        force: Annotated[bool, Doc("move VERSION-ARCH if it points at another image")] = False,
        provenance: AttachProvenance = True,
        sbom: AttachSbom = True,
        sbom_scanner: SbomScanner = DEFAULT_SCANNER,
        insecure_registries: Insecure = [],
        username: Username = "",
        password: Password = None,
        docker_config: DockerConfig = None,
        ca_file: CaFile = None,
        deadline: Deadline = DEFAULT_DEADLINE,
    ) -> str:
        """Build and push one variant as REPO:VERSION-ARCH; print its digest-pinned reference."""
        access = RegistryAccess(
            insecure_registries, username, password, docker_config, ca_file, deadline
        )
        builds = VariantBuilds.stamped(source, version, revision, build_args, source_url)
        target = f"{registry}/{repository}"
        with core_errors(target):
            plan = release_job.VariantPlan(parse_platform(str(platform)), ".", dockerfile)
            async with embedded_registry() as embedded:
                published = await release_job.publish_variant(
                    plan,
                    builds.stager(embedded.service),
                    staging=embedded.staging,
                    registry=registry,
                    repository=repository,
                    version=version,
                    settings=await access.settings(target, embedded.host),
                    force=force,
                    attach=builds.attach(
                        provenance=provenance,
                        sbom=sbom,
                        scanner=sbom_scanner,
                        repository=repository,
                    ),
                )
        # The result is the reference alone (CI captures it); what happened goes to the log.
        sys.stderr.write(published.outcome() + "\n")
        return published.reference + "\n"
