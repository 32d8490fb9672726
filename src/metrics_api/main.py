"""The Dagger object: thin wiring from `dagger call` to the engine-free core."""

import json
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Self, TypeVar, cast

import dagger
from dagger import DefaultPath, Doc, Ignore, dag, function, object_type
from dagger._exceptions import QueryErrorValue
from dagger.mod._exceptions import FunctionError
from gql import GraphQLRequest
from pydantic import BaseModel, SecretStr

from metrics_api import release as release_job
from metrics_api.oci import jobs
from metrics_api.oci.attestations import keep_attestations
from metrics_api.oci.auth import Credentials, auths_from_text
from metrics_api.oci.errors import Hints, InvalidInputError, OciError, Remedy
from metrics_api.oci.layout import write_layout
from metrics_api.oci.platform import Platform, parse_platform
from metrics_api.oci.reference import parse_reference
from metrics_api.oci.trust import trust_context

F = TypeVar("F", bound=Callable[..., Any])

# The embedded registry lives inside the pipeline. Its address host is `localhost`, so the
# engine aliases it to the service and talks plain HTTP, as it does for any loopback host.
EMBEDDED_REGISTRY_IMAGE = "registry:3"
EMBEDDED_PUSH_HOST = "localhost:5000"
# Every variant is built, then pushed to the registry inside the pipeline: its digest is then
# known before the target is touched, and the core copies those exact bytes.
EMBEDDED_REPOSITORY = "staging/metrics-api"
LAYOUT_DIRECTORY = "metrics-api-oci"
DEFAULT_DEADLINE = jobs.Settings.deadline


def uncached(fn: F) -> F:
    """Register a function that reads or writes a registry: its result must never be cached."""
    # dagger-io's typed overloads of `function` leave out `cache`, which it does accept.
    return cast("F", cast("Any", function)(cache="never")(fn))


class PipelineError(FunctionError, dagger.QueryError):
    """A build, a push or the core failed; the message says which and what to do.

    The SDK shows a ``FunctionError`` without a traceback, which is right for an expected
    failure (any other exception is logged with its stack: dagger/mod/_module.py,
    ``Module.call``). It names the error's class before the message, except for an API
    error (a ``QueryError``), whose message it passes on as it is
    (dagger/mod/_exceptions.py, ``record_exception``): being both, the user reads the
    message alone, as from the command line.
    """

    def __new__(cls, message: str) -> Self:  # noqa: ARG004 - QueryError.__new__ reads errors
        """Skip ``QueryError.__new__``, which picks a subclass from the errors' extensions."""
        return Exception.__new__(cls)

    def __init__(self, message: str) -> None:
        """One error value holding the message, and no ``extra`` values for the SDK."""
        dagger.QueryError.__init__(self, [QueryErrorValue(message)], _NO_QUERY)
        self.extra = None


# A QueryError records the request that failed; these errors come from no request.
_NO_QUERY = GraphQLRequest("{ __typename }")


# What each remedy of the core means for these functions' arguments.
HINTS = Hints(
    remedies={
        Remedy.PLAIN_HTTP: "if {host} serves plain HTTP, pass --insecure-registries {host}",
        Remedy.TRUST: (
            "pass --ca-file with the PEM certificate of that authority (the module's "
            "container trusts only public ones)"
        ),
        Remedy.CREDENTIALS: (
            "pass --username and --password (e.g. env:REGISTRY_PASSWORD) for {host}, or a "
            "--docker-config whose auths hold {host}"
        ),
        Remedy.FORCE: "pass --force to move the tags named, or release under a new version",
        Remedy.DEADLINE: "check the registry, or raise --deadline",
        Remedy.LEDGER: "pass --expect PLATFORM=DIGEST for each platform",
        Remedy.VARIANTS: "pass --variants PLATFORM=REF for each platform",
    },
    # --username/--password only ever reach the registry of the call's own target.
    other_credentials="pass a --docker-config whose auths hold {host}",
)


def _failed(error: OciError, login_host: str = "") -> PipelineError:
    """The core's error in this interface's words; ``login_host`` gets --username."""
    return PipelineError(HINTS.render(error, login_host))


def _host(reference: str) -> str:
    """The registry of a reference the user typed, or none while it does not parse."""
    try:
        return parse_reference(reference).host
    except InvalidInputError:
        return ""


def _build_args(version: str, revision: str, extra: list[str]) -> list[dagger.BuildArg]:
    args = {"VERSION": version.removeprefix("v"), "REVISION": revision}
    for text in extra:
        name, sep, value = text.partition("=")
        if not sep or not name:
            msg = f"expected a build argument as KEY=VALUE, found {text!r}"
            raise PipelineError(msg)
        args[name] = value
    return [dagger.BuildArg(name=name, value=value) for name, value in args.items()]


def _build(
    source: dagger.Directory,
    platform: dagger.Platform,
    dockerfile: str,
    build_args: list[str],
    version: str,
    revision: str,
) -> dagger.Container:
    return source.docker_build(
        platform=platform,
        dockerfile=dockerfile,
        build_args=_build_args(version, revision, build_args),
    )


FORMATS = ("text", "json")


def _check_format(format_: str) -> None:
    """Refuse an unknown --format before anything is built or pushed."""
    if format_ not in FORMATS:
        msg = f"expected --format text or json, found {format_!r}"
        raise PipelineError(msg)


def _keep_attestations(mode: str) -> bool:
    """Refuse an unknown attestation mode before anything is built or pushed."""
    try:
        return keep_attestations(mode)
    except InvalidInputError:
        msg = f"expected --attestations keep or drop, found {mode!r}"
        raise PipelineError(msg) from None


def _render(report: BaseModel, text: str, format_: str) -> str:
    """The result as printed: ending in a newline, so the engine's next line starts clean."""
    rendered = json.dumps(report.model_dump(mode="json"), indent=2) if format_ == "json" else text
    return rendered + "\n"


async def _settings(
    reference: str,
    username: str,
    password: dagger.Secret | None,
    insecure: list[str],
    deadline: float,
    docker_config: dagger.Secret | None = None,
    ca_file: dagger.File | None = None,
) -> jobs.Settings:
    """Core settings; each credential goes to its own registry host only.

    ``--docker-config`` gives credentials per host; ``--username``/``--password`` are for
    the registry of ``reference`` and win over the config for that host.
    """
    credentials = {}
    if docker_config is not None:
        try:
            credentials = auths_from_text(await docker_config.plaintext(), "--docker-config")
        except OciError as error:
            raise _failed(error, _host(reference)) from error
    if password is not None:
        host = parse_reference(reference).host
        secret = SecretStr(await password.plaintext())
        credentials[host] = Credentials(username=username, password=secret, source="--password")
    ca_certificates = await ca_file.contents() if ca_file is not None else ""
    if ca_certificates:  # checked before any request
        try:
            trust_context(ca_certificates, where="--ca-file")
        except OciError as error:
            raise _failed(error) from error
    return jobs.Settings(
        insecure_registries=frozenset(insecure),
        credentials=credentials,
        use_docker_config=False,
        deadline=deadline,
        ca_certificates=ca_certificates,
    )


async def _publish(
    container: dagger.Container, address: str, registry_service: dagger.Service, variant: str
) -> str:
    """Build ``variant`` (its platform and folder, as the user named them) and stage it."""
    try:
        return await container.publish(address, registry_service=registry_service)
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


# The engine pulls base images with the CLI's Docker login (engine/client/client.go,
# authprovider over config.LoadDefaultConfigFile), never with this module's arguments.
BASE_IMAGE_LOGIN = (
    "a base image (FROM) behind credentials is pulled with the Docker login of the machine "
    "that runs `dagger`: run `docker login HOST` there (--username and --password only "
    "reach the registry released to)"
)


def _refused_pull(message: str) -> bool:
    """Whether a build failed because a registry refused to serve a base image."""
    words = ("pull access denied", "unauthorized", "authorization", "denied: ")
    return any(word in message.lower() for word in words)


# `dagger call` owns --output (-o) and --json (-j): an argument of either name breaks every
# call that passes a flag (cmd/dagger/flags.go, AddFlag), so the report's form is `format`.
Format = Annotated[str, Doc("text (a readable summary) or json (the whole report)")]
Deadline = Annotated[float, Doc("seconds the registry work may take, retries included")]
BuildArgs = Annotated[list[str], Doc("extra build arguments, KEY=VALUE")]
Source = Annotated[
    dagger.Directory,
    Doc("the repository; variant folders are relative to it"),
    DefaultPath("/"),
    Ignore([".git", "**/__pycache__", ".venv", "sdk", "tests"]),
]
# `dagger call --help` shows no default for a list (v0.21.8), so the text carries it.
VariantTable = Annotated[
    list[str],
    Doc(
        "the variant table: PLATFORM=DIR[:DOCKERFILE], one per platform (default "
        f"{','.join(release_job.DEFAULT_VARIANTS)})"
    ),
]
Repository = Annotated[str, Doc("repository in the registry")]
Version = Annotated[str, Doc("the release tag; variants get VERSION-ARCH")]
Revision = Annotated[str, Doc("source revision stamped into the images")]
IndexAnnotations = Annotated[list[str], Doc("index annotations, KEY=VALUE")]
SourceDateEpoch = Annotated[str, Doc("seconds since 1970 for org.opencontainers.image.created")]
SourceUrl = Annotated[
    str, Doc("URL of the source repository, stamped as org.opencontainers.image.source")
]


def _stamped(build_args: list[str], source_url: str) -> list[str]:
    """The build arguments, with SOURCE first so an explicit SOURCE=... still wins."""
    return [f"SOURCE={source_url}", *build_args] if source_url else build_args


Username = Annotated[str, Doc("registry username")]
Password = Annotated[dagger.Secret | None, Doc("registry password, e.g. env:REGISTRY_PASSWORD")]
CaFile = Annotated[
    dagger.File | None,
    Doc("PEM certificates of a private registry's authority, trusted besides public ones"),
]
DockerConfig = Annotated[
    dagger.Secret | None,
    Doc(
        "a Docker config.json whose auths hold credentials for each registry, e.g. "
        "file:$HOME/.docker/config.json or env:DOCKER_AUTH_CONFIG (helpers cannot run here)"
    ),
]
Insecure = Annotated[list[str], Doc("registries (HOST[:PORT]) reached over plain HTTP")]
Attestations = Annotated[
    str,
    Doc(
        "keep: carry each variant's provenance/SBOM attestation manifests into the index, "
        "right after its image; drop: the platform images only"
    ),
]


@object_type
class MetricsApi:
    """Build metrics-api per platform and publish one verified multi-platform image."""

    @function
    def build(
        self,
        source: Annotated[dagger.Directory, Doc("the variant's source folder (build context)")],
        platform: Annotated[dagger.Platform, Doc("the platform to build for, e.g. linux/arm64")],
        dockerfile: Annotated[str, Doc("Dockerfile path inside the source")] = "Dockerfile",
        build_args: BuildArgs = [],
        version: Annotated[str, Doc("version stamped into the image")] = "v2.0.0",
        revision: Annotated[str, Doc("source revision stamped into the image")] = "unknown",
        source_url: SourceUrl = "",
    ) -> dagger.Container:
        """Build one variant from its own folder and Dockerfile."""
        return _build(
            source, platform, dockerfile, _stamped(build_args, source_url), version, revision
        )

    @uncached
    async def publish_variant(
        self,
        source: Annotated[dagger.Directory, Doc("the variant's source folder (build context)")],
        platform: Annotated[dagger.Platform, Doc("the platform to build for, e.g. linux/arm64")],
        registry: Annotated[str, Doc("registry HOST[:PORT] to push to")],
        repository: Repository = "metrics-api",
        version: Annotated[str, Doc("release version; the tag is VERSION-ARCH")] = "v2.0.0",
        revision: Revision = "unknown",
        dockerfile: Annotated[str, Doc("Dockerfile path inside the source")] = "Dockerfile",
        build_args: BuildArgs = [],
        source_url: SourceUrl = "",
        force: Annotated[bool, Doc("move VERSION-ARCH if it points at another image")] = False,
        insecure_registries: Insecure = [],
        username: Username = "",
        password: Password = None,
        docker_config: DockerConfig = None,
        ca_file: CaFile = None,
        deadline: Deadline = DEFAULT_DEADLINE,
    ) -> str:
        """Build and push one variant as REPO:VERSION-ARCH; print its digest-pinned reference."""
        plan = release_job.VariantPlan(_platform(str(platform)), ".", dockerfile)
        build = _ReleaseBuild(source, [plan], version, revision, _stamped(build_args, source_url))
        target = f"{registry}/{repository}"
        async with _embedded_registry() as (service, embedded):
            try:
                settings = await _settings(
                    target,
                    username,
                    password,
                    [*insecure_registries, embedded],
                    deadline,
                    docker_config,
                    ca_file,
                )
                published = await release_job.publish_variant(
                    plan,
                    build.stager(service),
                    staging=_staging(embedded),
                    registry=registry,
                    repository=repository,
                    version=version,
                    settings=settings,
                    force=force,
                )
            except OciError as error:
                raise _failed(error, _host(target)) from error
        # The result is the reference alone (CI captures it); what happened goes to the log.
        sys.stderr.write(published.outcome() + "\n")
        return published.reference + "\n"

    @uncached
    async def assemble(
        self,
        target: Annotated[str, Doc("REGISTRY/REPOSITORY:TAG to release")],
        variants: Annotated[list[str], Doc("PLATFORM=REFERENCE for each pushed variant")],
        expect: Annotated[list[str], Doc("PLATFORM=DIGEST recorded at push time")] = [],
        annotations: Annotated[list[str], Doc("index annotations, KEY=VALUE")] = [],
        force: Annotated[bool, Doc("move the tag if it points at another index")] = False,
        attestations: Attestations = "drop",
        dry_run: Annotated[bool, Doc("assemble and print the index, push nothing")] = False,
        insecure_registries: Insecure = [],
        username: Username = "",
        password: Password = None,
        docker_config: DockerConfig = None,
        ca_file: CaFile = None,
        deadline: Deadline = DEFAULT_DEADLINE,
        format_: Format = "text",
    ) -> str:
        """Assemble pushed variants into one index by digest, publish it, verify it, then tag."""
        _check_format(format_)
        keep = _keep_attestations(attestations)
        try:
            requests = jobs.parse_requests(variants, expect)
            settings = await _settings(
                target,
                username,
                password,
                insecure_registries,
                deadline,
                docker_config,
                ca_file,
            )
            async with jobs.open_client(settings) as client:
                report = await jobs.assemble(
                    client,
                    target,
                    requests,
                    annotations=dict(jobs.parse_annotation(text) for text in annotations),
                    force=force,
                    dry_run=dry_run,
                    keep_attestations=keep,
                )
        except OciError as error:
            raise _failed(error, _host(target)) from error
        return _render(report, report.text(), format_)

    @uncached
    async def verify(
        self,
        target: Annotated[str, Doc("REGISTRY/REPOSITORY:TAG (or @DIGEST) to check")],
        expect: Annotated[list[str], Doc("PLATFORM=DIGEST recorded at push time")],
        insecure_registries: Insecure = [],
        username: Username = "",
        password: Password = None,
        docker_config: DockerConfig = None,
        ca_file: CaFile = None,
        deadline: Deadline = DEFAULT_DEADLINE,
        format_: Format = "text",
    ) -> str:
        """Check a published index against the digests recorded when the variants were pushed."""
        _check_format(format_)
        try:
            ledger = [jobs.parse_expectation(text) for text in expect]
            settings = await _settings(
                target,
                username,
                password,
                insecure_registries,
                deadline,
                docker_config,
                ca_file,
            )
            async with jobs.open_client(settings) as client:
                report = await jobs.verify(client, target, ledger)
        except OciError as error:
            raise _failed(error, _host(target)) from error
        if not report.ok:
            raise PipelineError(report.text())
        return _render(report, report.text(), format_)

    @uncached
    async def release(
        self,
        source: Source,
        variants: VariantTable = list(release_job.DEFAULT_VARIANTS),
        registry: Annotated[
            str, Doc("registry HOST[:PORT]; empty runs an embedded registry in the pipeline")
        ] = "",
        repository: Repository = "metrics-api",
        version: Version = "v2.0.0",
        revision: Revision = "unknown",
        annotations: IndexAnnotations = [],
        source_date_epoch: SourceDateEpoch = "",
        build_args: BuildArgs = [],
        source_url: SourceUrl = "",
        force: Annotated[
            bool, Doc("move the release tag or a VERSION-ARCH tag that points elsewhere")
        ] = False,
        attestations: Attestations = "drop",
        dry_run: Annotated[
            bool, Doc("build, then check the target read-only; print what would be written")
        ] = False,
        insecure_registries: Insecure = [],
        username: Username = "",
        password: Password = None,
        docker_config: DockerConfig = None,
        ca_file: CaFile = None,
        deadline: Deadline = DEFAULT_DEADLINE,
        format_: Format = "text",
    ) -> str:
        """Build every variant, check the target, then publish each VERSION-ARCH and VERSION."""
        _check_format(format_)
        keep = _keep_attestations(attestations)
        build = _ReleaseBuild.parse(
            source, variants, version, revision, _stamped(build_args, source_url)
        )
        async with _embedded_registry() as (service, embedded):
            target = f"{registry or embedded}/{repository}"
            try:
                settings = await _settings(
                    target,
                    username,
                    password,
                    [*insecure_registries, embedded],
                    deadline,
                    docker_config,
                    ca_file,
                )
                report = await build.release(
                    service,
                    embedded,
                    target=target,
                    settings=settings,
                    annotations=annotations,
                    source_date_epoch=source_date_epoch,
                    force=force,
                    dry_run=dry_run,
                    keep_attestations=keep,
                )
            except OciError as error:
                raise _failed(error, _host(target)) from error
        summary = report.summary()
        if not registry:
            # Its address is a random name inside the pipeline, of no use after the call.
            summary = summary.replace(f"{embedded}/", "") + (
                "\nThis release was made in the pipeline's own registry, which is discarded "
                "when this call ends: pass --registry to keep it, or call release-layout to "
                "save it as files."
            )
        return _render(report, summary, format_)

    @uncached
    async def release_layout(
        self,
        source: Source,
        variants: VariantTable = list(release_job.DEFAULT_VARIANTS),
        repository: Repository = "metrics-api",
        version: Version = "v2.0.0",
        revision: Revision = "unknown",
        annotations: IndexAnnotations = [],
        source_date_epoch: SourceDateEpoch = "",
        build_args: BuildArgs = [],
        source_url: SourceUrl = "",
        deadline: Deadline = DEFAULT_DEADLINE,
    ) -> dagger.Directory:
        """Release into the embedded registry and return it as an OCI layout (export with -o)."""
        build = _ReleaseBuild.parse(
            source, variants, version, revision, _stamped(build_args, source_url)
        )
        async with _embedded_registry() as (service, embedded):
            try:
                settings = await _settings("", "", None, [embedded], deadline)
                report = await build.release(
                    service,
                    embedded,
                    target=f"{embedded}/{repository}",
                    settings=settings,
                    annotations=annotations,
                    source_date_epoch=source_date_epoch,
                )
                async with jobs.open_client(settings) as client:
                    await write_layout(
                        client, parse_reference(report.target), Path(LAYOUT_DIRECTORY), version
                    )
            except OciError as error:
                raise _failed(error) from error
        # The function runs in the module's scratch directory, which the engine can read.
        return dag.current_module().workdir(LAYOUT_DIRECTORY)


@asynccontextmanager
async def _embedded_registry() -> AsyncIterator[tuple[dagger.Service, str]]:
    """A registry inside the pipeline for this call: the service, and its host:port."""
    registry = (
        dag.container()
        .from_(EMBEDDED_REGISTRY_IMAGE)
        # Quiet: its access log would be most of a release's output (distribution's
        # configuration, `log`), and a fixed secret spares the warning about a random one.
        .with_env_variable("REGISTRY_LOG_LEVEL", "fatal")
        .with_env_variable("REGISTRY_LOG_ACCESSLOG_DISABLED", "true")
        .with_env_variable("REGISTRY_HTTP_SECRET", "embedded-registry-of-one-call")
        .with_exposed_port(5000)
    )
    service = await registry.as_service().start()
    try:
        yield service, await service.endpoint(port=5000)
    finally:
        await service.stop()


def _staging(embedded: str) -> release_job.Staging:
    """The embedded registry as the core's staging area: the engine pushes to ``localhost``."""
    return release_job.Staging(
        push_host=EMBEDDED_PUSH_HOST, host=embedded, repository=EMBEDDED_REPOSITORY
    )


def _described(plan: release_job.VariantPlan) -> str:
    """A variant as the user named it: its platform, folder and Dockerfile."""
    folder = "the --source folder" if plan.directory == "." else plan.directory
    return f"{plan.platform} ({folder}, {plan.dockerfile})"


@dataclass(frozen=True)
class _ReleaseBuild:
    """What `release`, `release-layout` and `publish-variant` build: variants and stamps."""

    source: dagger.Directory
    plans: list[release_job.VariantPlan]
    version: str
    revision: str
    build_args: list[str]

    @classmethod
    def parse(
        cls,
        source: dagger.Directory,
        variants: list[str],
        version: str,
        revision: str,
        build_args: list[str],
    ) -> "_ReleaseBuild":
        try:
            plans = release_job.parse_variant_table(variants)
        except OciError as error:
            raise _failed(error) from error
        return cls(source, plans, version, revision, build_args)

    def stager(self, service: dagger.Service) -> release_job.Stage:
        """Build a variant and push it to the embedded registry ``service``."""

        async def stage(plan: release_job.VariantPlan, address: str) -> str:
            folder = self.source if plan.directory == "." else self.source.directory(plan.directory)
            container = _build(
                folder,
                dagger.Platform(str(plan.platform)),
                plan.dockerfile,
                self.build_args,
                self.version,
                self.revision,
            )
            return await _publish(container, address, service, _described(plan))

        return stage

    async def release(
        self,
        service: dagger.Service,
        embedded: str,
        *,
        target: str,
        settings: jobs.Settings,
        annotations: list[str],
        source_date_epoch: str,
        force: bool = False,
        dry_run: bool = False,
        keep_attestations: bool = False,
    ) -> release_job.ReleaseReport:
        """Stage every variant in the embedded registry, then release to ``target``."""
        registry, _, repository = target.partition("/")
        return await release_job.release(
            self.plans,
            self.stager(service),
            staging=_staging(embedded),
            registry=registry,
            repository=repository,
            version=self.version,
            settings=settings,
            annotations=dict(jobs.parse_annotation(text) for text in annotations),
            source_date_epoch=source_date_epoch or None,
            force=force,
            dry_run=dry_run,
            keep_attestations=keep_attestations,
        )


def _platform(text: str) -> Platform:
    try:
        return parse_platform(text)
    except InvalidInputError as error:
        raise _failed(error) from error
