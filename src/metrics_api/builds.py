"""Building a variant with the engine, and staging it in the pipeline's own registry."""

from dataclasses import dataclass
from typing import Self

import dagger

from metrics_api.oci.release.job import Stage, VariantPlan
from metrics_api.pipeline_errors import PipelineError

# The engine pulls base images with the CLI's Docker login (engine/client/client.go,
# authprovider over config.LoadDefaultConfigFile), never with this module's arguments.
BASE_IMAGE_LOGIN = (
    "a base image (FROM) behind credentials is pulled with the Docker login of the machine "
    "that runs `dagger`: run `docker login HOST` there (--username and --password only "
    "reach the registry released to)"
)


@dataclass(frozen=True)
class VariantBuilds:
    """How every variant of one call is built: from which folder, with which stamps."""

    source: dagger.Directory  # the repository, or the variant's own folder (directory ".")
    version: str
    revision: str
    build_args: list[str]  # KEY=VALUE, each build's

    @classmethod
    def stamped(
        cls,
        source: dagger.Directory,
        version: str,
        revision: str,
        build_args: list[str],
        source_url: str,
    ) -> Self:
        """Builds stamped with ``source_url`` too (SOURCE first, so SOURCE=... still wins)."""
        stamps = [f"SOURCE={source_url}", *build_args] if source_url else build_args
        return cls(source, version, revision, stamps)

    def container(self, plan: VariantPlan) -> dagger.Container:
        """The variant's lazy build: its folder, its Dockerfile, its platform."""
        folder = self.source if plan.directory == "." else self.source.directory(plan.directory)
        return folder.docker_build(
            platform=dagger.Platform(str(plan.platform)),
            dockerfile=plan.dockerfile,
            build_args=build_arguments(self.version, self.revision, self.build_args),
        )

    def stager(self, registry: dagger.Service) -> Stage:
        """Build a variant and push it to the pipeline's ``registry``: the core's ``Stage``."""

        async def stage(plan: VariantPlan, address: str) -> str:
            return await _publish(self.container(plan), address, registry, _described(plan))

        return stage


def build_arguments(version: str, revision: str, extra: list[str]) -> list[dagger.BuildArg]:
    """VERSION (without its v) and REVISION, then ``extra`` KEY=VALUE, which may override."""
    args = {"VERSION": version.removeprefix("v"), "REVISION": revision}
    for text in extra:
        name, sep, value = text.partition("=")
        if not sep or not name:
            msg = f"expected a build argument as KEY=VALUE, found {text!r}"
            raise PipelineError(msg)
        args[name] = value
    return [dagger.BuildArg(name=name, value=value) for name, value in args.items()]


def _described(plan: VariantPlan) -> str:
    """A variant as the user named it: its platform, folder and Dockerfile."""
    folder = "the --source folder" if plan.directory == "." else plan.directory
    return f"{plan.platform} ({folder}, {plan.dockerfile})"


async def _publish(
    container: dagger.Container, address: str, registry: dagger.Service, variant: str
) -> str:
    """Build ``variant`` and push it to ``address`` in ``registry``: its pinned reference."""
    try:
        return await container.publish(address, registry_service=registry)
    except dagger.ExecError as error:
        output = error.stderr.strip()[-2000:]
        msg = (
            f"building {variant} failed: `{' '.join(error.command)}` exited {error.exit_code}"
            + (f": {output}" if output else "")
            + "; fix the Dockerfile or the source, then re-run"
        )
        raise PipelineError(msg) from error
    except dagger.QueryError as error:
        msg = f"building {variant} failed: {error}; " + (
            BASE_IMAGE_LOGIN if _refused_pull(str(error)) else "check the Dockerfile"
        )
        raise PipelineError(msg) from error


def _refused_pull(message: str) -> bool:
    """Whether a build failed because a registry refused to serve a base image."""
    words = ("pull access denied", "unauthorized", "authorization", "denied: ")
    return any(word in message.lower() for word in words)
