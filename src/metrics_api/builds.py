"""Building a variant with the engine and staging it in the pipeline's own registry.

Also the facts of each build that its provenance states, as the engine knows them, and
the scan of what each build made for its SBOM (scanner.py).
"""

import hashlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from importlib import metadata
from typing import Self
from uuid import uuid4

import dagger
from dagger import dag

from metrics_api.oci.concurrency import run_all
from metrics_api.oci.release.build_args import public_source, secret_warnings
from metrics_api.oci.release.dockerfile import base_images, final_base
from metrics_api.oci.release.job import Attach, Provenance, Stage, StageBase, VariantPlan
from metrics_api.oci.release.provenance import BaseImage, BuildFacts
from metrics_api.pipeline_errors import PipelineError
from metrics_api.scanner import sbom_scanner

DISTRIBUTION = "metrics-api"  # this module's package, whose version the provenance names

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
    source_url: str = ""
    # One per call: the variants of one release share it.
    invocation_id: str = field(default_factory=lambda: str(uuid4()))
    # When each variant's build and staging started and finished, as its stager saw it.
    times: dict[VariantPlan, tuple[datetime, datetime]] = field(default_factory=dict, compare=False)
    # The container each variant's stager built and pushed: what its SBOM scans.
    built: dict[VariantPlan, dagger.Container] = field(default_factory=dict, compare=False)

    @classmethod
    def stamped(
        cls,
        source: dagger.Directory,
        version: str,
        revision: str,
        build_args: list[str],
        source_url: str,
    ) -> Self:
        """Builds stamped with ``source_url`` too (SOURCE first, so SOURCE=... still wins).

        The URL becomes an image label and a provenance field anyone who pulls can read,
        so one that carries a user or password is refused; a build argument named like a
        secret is warned about (oci/release/build_args.py).
        """
        given = parse_build_args(build_args).get("SOURCE")
        where, url = (
            ("--build-args SOURCE", given) if given is not None else ("--source-url", source_url)
        )
        if public_source(url) != url:
            msg = (
                f"expected {where} to be a public address (it is stamped into the images and "
                "their provenance for anyone to read), found a user, password, query or "
                f"fragment in it; give it as {public_source(url)}"
            )
            raise PipelineError(msg)
        for warning in secret_warnings([text.partition("=")[0] for text in build_args]):
            sys.stderr.write(warning + "\n")
        stamps = [f"SOURCE={source_url}", *build_args] if source_url else build_args
        return cls(source, version, revision, stamps, source_url)

    def folder(self, plan: VariantPlan) -> dagger.Directory:
        """The variant's build context."""
        return self.source if plan.directory == "." else self.source.directory(plan.directory)

    def container(self, plan: VariantPlan) -> dagger.Container:
        """The variant's lazy build: its folder, its Dockerfile, its platform."""
        return self.folder(plan).docker_build(
            platform=dagger.Platform(str(plan.platform)),
            dockerfile=plan.dockerfile,
            build_args=build_arguments(self.version, self.revision, self.build_args),
        )

    def stager(self, registry: dagger.Service) -> Stage:
        """Build a variant and push it to the pipeline's ``registry``: the core's ``Stage``."""

        async def stage(plan: VariantPlan, address: str) -> str:
            started = datetime.now(UTC)
            container = self.container(plan)
            pinned = await publish_build(container, address, registry, _described(plan))
            self.times[plan] = (started, datetime.now(UTC))
            self.built[plan] = container
            return pinned

        return stage

    def stage_base(self, registry: dagger.Service) -> StageBase:
        """Push a variant's base image (its last stage's FROM) beside it: the core's ``StageBase``.

        Its layers are the ones the build did not add; a reproducible release keeps them
        byte for byte. Pulled as the build pulled it (the engine's cache has it).
        """

        async def stage(plan: VariantPlan, address: str) -> str | None:
            dockerfile = await self.folder(plan).file(plan.dockerfile).contents()
            arguments = argument_values(self.version, self.revision, self.build_args)
            return await stage_final_base(
                dockerfile, arguments, str(plan.platform), address, registry
            )

        return stage

    def provenance(self, engine: dagger.Client | None = None) -> Provenance:
        """The core's ``Provenance``: each staged variant's facts, from ``engine`` (``dag``)."""

        async def facts(plan: VariantPlan, _image_digest: str) -> BuildFacts:
            try:
                return await self.facts(plan, engine or dag)
            except dagger.QueryError as error:
                msg = (
                    f"gathering the provenance of {_described(plan)} failed: {error}; "
                    "re-run, or pass --provenance=false to release without provenance"
                )
                raise PipelineError(msg) from error

        return facts

    def attach(self, *, provenance: bool, sbom: bool, scanner: str, repository: str) -> Attach:
        """What the core stages beside each image: its provenance, its SBOM, as asked."""
        return Attach(
            provenance=self.provenance() if provenance else None,
            sbom=sbom_scanner(
                dag,
                scanner,
                self.built,
                name=repository,
                version=self.version,
                described=_described,
            )
            if sbom
            else None,
        )

    async def facts(self, plan: VariantPlan, engine: dagger.Client) -> BuildFacts:
        """What the engine knows of a variant's build, after its stager ran.

        Build arguments are the stamps and ``--build-args``; registry credentials are
        never arguments of a build, so none can reach the facts.
        """
        folder = self.folder(plan)
        platform = str(plan.platform)
        arguments = argument_values(self.version, self.revision, self.build_args)
        dockerfile = await folder.file(plan.dockerfile).contents()
        started, finished = self.times[plan]
        return BuildFacts(
            platform=platform,
            folder=plan.directory,
            dockerfile=plan.dockerfile,
            version=self.version,
            revision=self.revision,
            source_url=self.source_url,
            build_args=arguments,
            engine_version=await engine.version(),
            module_version=module_version(),
            source_digest=await content_digest(folder),
            base_images=[
                await pinned_base(engine, platform, name)
                for name in base_images(dockerfile, arguments, platform=platform)
            ],
            started_on=started,
            finished_on=finished,
            invocation_id=self.invocation_id,
        )


async def pinned_base(engine: dagger.Client, platform: str, name: str) -> BaseImage:
    """``name`` as the engine resolves it for ``platform``: the digest its tag points at.

    Right after ``from``, ``imageRef`` is the reference with the digest the engine resolved
    (core/schema/container.go): the root manifest's, an index for a multi-platform image.
    """
    pinned = await engine.container(platform=dagger.Platform(platform)).from_(name).image_ref()
    _, sep, digest = pinned.rpartition("@")
    if not sep:
        msg = f"expected the engine to pin {name} as REFERENCE@DIGEST, found {pinned!r}"
        raise PipelineError(msg)
    return BaseImage(uri=name, digest=digest)


def module_version() -> str:
    """The version of this module, as installed in the engine (uv sync of its pyproject)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"


def argument_values(version: str, revision: str, extra: list[str]) -> dict[str, str]:
    """VERSION (without its v) and REVISION, then ``extra`` KEY=VALUE, which may override."""
    return {"VERSION": version.removeprefix("v"), "REVISION": revision, **parse_build_args(extra)}


def build_arguments(version: str, revision: str, extra: list[str]) -> list[dagger.BuildArg]:
    """``argument_values`` as the engine's build arguments."""
    values = argument_values(version, revision, extra)
    return [dagger.BuildArg(name=name, value=value) for name, value in values.items()]


async def stage_final_base(
    dockerfile: str,
    arguments: Mapping[str, str],
    platform: str,
    address: str,
    registry: dagger.Service,
) -> str | None:
    """Push the image the Dockerfile's last stage starts FROM to ``address``; its reference.

    None for ``FROM scratch``. Pulled as the build pulled it (the engine's cache has it).
    """
    name = final_base(dockerfile, arguments, platform=platform)
    if name is None:
        return None
    base = dag.container(platform=dagger.Platform(platform)).from_(name)
    return await publish_build(base, address, registry, f"the base image {name}")


def parse_build_args(texts: list[str]) -> dict[str, str]:
    """``--build-args`` KEY=VALUE lines, the later of two equal keys winning."""
    args = {}
    for text in texts:
        name, sep, value = text.partition("=")
        if not sep or not name:
            found = f"{text!r} with no '='" if not sep else "one with no name (value not shown)"
            msg = f"expected a build argument as KEY=VALUE, found {found}"
            raise PipelineError(msg)
        args[name] = value
    return args


def _described(plan: VariantPlan) -> str:
    """A variant as the user named it: its platform, folder and Dockerfile."""
    folder = "the --source folder" if plan.directory == "." else plan.directory
    return f"{plan.platform} ({folder}, {plan.dockerfile})"


async def publish_build(
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


async def content_digest(folder: dagger.Directory) -> str:
    """The SHA-256 of ``DIGEST  PATH`` lines for every file of ``folder``, sorted by path.

    ``Directory.digest`` also hashes metadata the engine does not keep: the same checkout
    loaded again by the same engine gave another digest, so a re-run looked changed. File
    contents alone are stable, and scripts/source-digest.py recomputes this from a checkout.
    """
    paths = sorted(path for path in await folder.glob("**") if not path.endswith("/"))
    digests = await run_all(
        [partial(folder.file(path).digest, exclude_metadata=True) for path in paths]
    )
    lines = "".join(
        f"{digest.removeprefix('sha256:')}  {path}\n"
        for path, digest in zip(paths, digests, strict=True)
    )
    return "sha256:" + hashlib.sha256(lines.encode()).hexdigest()
