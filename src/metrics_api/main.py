"""The Dagger object: each function goes from its arguments to one core call and its result.

The functions list their arguments one by one because `dagger call` derives every flag
from a function's own signature (flags follow the function they configure); what a shared
argument means is declared once, in ``arguments``.
"""

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast

import dagger
from dagger import Doc, dag, function, object_type

from metrics_api.access import RegistryAccess
from metrics_api.arguments import (
    DEFAULT_DEADLINE,
    AttachProvenance,
    AttachSbom,
    Attestations,
    BuildArgs,
    BuildPlatform,
    CaFile,
    CertificateIdentity,
    CertificateIdentityRegexp,
    CertificateOidcIssuer,
    Deadline,
    DockerConfig,
    Dockerfile,
    Format,
    IdentityToken,
    IdTokenRequestToken,
    IdTokenRequestUrl,
    IndexAnnotations,
    Insecure,
    Keyless,
    Ledger,
    Password,
    PublicKeys,
    RebuildArgs,
    Registry,
    ReleaseAttestations,
    Repository,
    RequireProvenance,
    RequireSbom,
    Revision,
    SbomScanner,
    SigningKey,
    SigningKeyPassword,
    SigningTrustConfig,
    Source,
    SourceDateEpoch,
    SourceUrl,
    Target,
    Username,
    VariantSource,
    VariantTable,
    VerifyLedger,
    VerifyTrustConfig,
    Version,
    attestation_mode,
    check_format,
    rendered,
)
from metrics_api.builds import VariantBuilds, parse_build_args
from metrics_api.embedded import embedded_registry
from metrics_api.oci import jobs
from metrics_api.oci.registry.session import Settings, open_client
from metrics_api.oci.release import job as release_job
from metrics_api.oci.release.layout import write_layout
from metrics_api.oci.spec.platform import parse_platform
from metrics_api.oci.spec.reference import parse_reference
from metrics_api.pipeline_errors import PipelineError, core_errors
from metrics_api.rebuilds import rebuild_release
from metrics_api.scanner import DEFAULT_SCANNER
from metrics_api.signatures import (
    keyless_signing,
    keyless_verification,
    open_signing_key,
    public_keys,
)

F = TypeVar("F", bound=Callable[..., Any])
LAYOUT_DIRECTORY = "metrics-api-oci"


def uncached(fn: F) -> F:
    """Register a function that reads or writes a registry: its result must never be cached."""
    # dagger-io's typed overloads of `function` leave out `cache`, which it does accept.
    return cast("F", cast("Any", function)(cache="never")(fn))


@object_type
class MetricsApi:
    """Build metrics-api per platform and publish one verified multi-platform image."""

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

    @uncached
    async def assemble(
        self,
        target: Target,
        variants: Annotated[list[str], Doc("PLATFORM=REFERENCE for each pushed variant")],
        expect: Ledger = [],
        annotations: IndexAnnotations = [],
        force: Annotated[bool, Doc("move the tag if it points at another index")] = False,
        attestations: Attestations = "drop",
        dry_run: Annotated[bool, Doc("assemble and print the index, push nothing")] = False,
        signing_key: SigningKey = None,
        signing_key_password: SigningKeyPassword = None,
        keyless: Keyless = False,
        identity_token: IdentityToken = None,
        id_token_request_url: IdTokenRequestUrl = None,
        id_token_request_token: IdTokenRequestToken = None,
        trust_config: SigningTrustConfig = None,
        insecure_registries: Insecure = [],
        username: Username = "",
        password: Password = None,
        docker_config: DockerConfig = None,
        ca_file: CaFile = None,
        deadline: Deadline = DEFAULT_DEADLINE,
        format_: Format = "text",
    ) -> str:
        """Assemble pushed variants into one index by digest, publish it, verify it, then tag."""
        check_format(format_)
        keep = attestation_mode(attestations)
        access = RegistryAccess(
            insecure_registries, username, password, docker_config, ca_file, deadline
        )
        with core_errors(target):
            requests = jobs.parse_requests(variants, expect)
            signer = await open_signing_key(signing_key, signing_key_password)
            signing = await keyless_signing(
                keyless, identity_token, id_token_request_url, id_token_request_token, trust_config
            )
            async with open_client(await access.settings(target)) as client:
                report = await jobs.assemble(
                    client,
                    target,
                    requests,
                    annotations=jobs.parse_annotations(annotations),
                    force=force,
                    dry_run=dry_run,
                    keep_attestations=keep,
                    signer=signer,
                    keyless=signing,
                )
        return rendered(report, report.text(), format_)

    @uncached
    async def verify(
        self,
        target: Annotated[str, Doc("REGISTRY/REPOSITORY:TAG (or @DIGEST) to check")],
        expect: VerifyLedger = [],
        require_provenance: RequireProvenance = False,
        require_sbom: RequireSbom = False,
        public_key: PublicKeys = [],
        certificate_identity: CertificateIdentity = "",
        certificate_identity_regexp: CertificateIdentityRegexp = "",
        certificate_oidc_issuer: CertificateOidcIssuer = "",
        trust_config: VerifyTrustConfig = None,
        insecure_registries: Insecure = [],
        username: Username = "",
        password: Password = None,
        docker_config: DockerConfig = None,
        ca_file: CaFile = None,
        deadline: Deadline = DEFAULT_DEADLINE,
        format_: Format = "text",
    ) -> str:
        """Check a published index against the digests recorded at push time, or by signature."""
        check_format(format_)
        access = RegistryAccess(
            insecure_registries, username, password, docker_config, ca_file, deadline
        )
        with core_errors(target):
            ledger = [jobs.parse_expectation(text) for text in expect]
            keys = await public_keys(public_key)
            identity = await keyless_verification(
                certificate_identity,
                certificate_identity_regexp,
                certificate_oidc_issuer,
                trust_config,
            )
            async with open_client(await access.settings(target)) as client:
                report = await jobs.verify(
                    client,
                    target,
                    ledger,
                    require_provenance=require_provenance,
                    require_sbom=require_sbom,
                    public_keys=keys,
                    keyless=identity,
                )
        if not report.ok:
            raise PipelineError(report.text())
        return rendered(report, report.text(), format_)

    @uncached
    async def rebuild(
        self,
        source: Source,
        target: Annotated[str, Doc("REGISTRY/REPOSITORY:TAG (or @DIGEST) of a published release")],
        build_args: RebuildArgs = [],
        insecure_registries: Insecure = [],
        username: Username = "",
        password: Password = None,
        docker_config: DockerConfig = None,
        ca_file: CaFile = None,
        deadline: Deadline = DEFAULT_DEADLINE,
        format_: Format = "text",
    ) -> str:
        """Rebuild a published release from its source and provenance; compare each platform."""
        check_format(format_)
        access = RegistryAccess(
            insecure_registries, username, password, docker_config, ca_file, deadline
        )
        with core_errors(target):
            given = parse_build_args(build_args)
            async with embedded_registry() as embedded:
                settings = await access.settings(target, embedded.host)
                async with open_client(settings) as client:
                    report = await rebuild_release(client, source, target, given, embedded)
        if not report.ok:
            raise PipelineError(report.text())
        return rendered(report, report.text(), format_)

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
        attestations: ReleaseAttestations = "drop",
        provenance: AttachProvenance = True,
        sbom: AttachSbom = True,
        sbom_scanner: SbomScanner = DEFAULT_SCANNER,
        dry_run: Annotated[
            bool, Doc("build, then check the target read-only; print what would be written")
        ] = False,
        signing_key: SigningKey = None,
        signing_key_password: SigningKeyPassword = None,
        keyless: Keyless = False,
        identity_token: IdentityToken = None,
        id_token_request_url: IdTokenRequestUrl = None,
        id_token_request_token: IdTokenRequestToken = None,
        trust_config: SigningTrustConfig = None,
        insecure_registries: Insecure = [],
        username: Username = "",
        password: Password = None,
        docker_config: DockerConfig = None,
        ca_file: CaFile = None,
        deadline: Deadline = DEFAULT_DEADLINE,
        format_: Format = "text",
    ) -> str:
        """Build every variant, check the target, then publish each VERSION-ARCH and VERSION."""
        check_format(format_)
        keep = attestation_mode(attestations)
        access = RegistryAccess(
            insecure_registries, username, password, docker_config, ca_file, deadline
        )
        builds = VariantBuilds.stamped(source, version, revision, build_args, source_url)
        with core_errors(registry and f"{registry}/{repository}"):
            plans = release_job.parse_variant_table(variants)
            signer = await open_signing_key(signing_key, signing_key_password)
            signing = await keyless_signing(
                keyless, identity_token, id_token_request_url, id_token_request_token, trust_config
            )
            async with embedded_registry() as embedded:
                report = await release_job.release(
                    plans,
                    builds.stager(embedded.service),
                    staging=embedded.staging,
                    registry=registry or embedded.host,
                    repository=repository,
                    version=version,
                    settings=await access.settings(
                        f"{registry or embedded.host}/{repository}", embedded.host
                    ),
                    annotations=jobs.parse_annotations(annotations),
                    source_date_epoch=source_date_epoch or None,
                    stage_base=builds.stage_base(embedded.service) if source_date_epoch else None,
                    force=force,
                    dry_run=dry_run,
                    keep_attestations=keep,
                    attach=builds.attach(
                        provenance=provenance,
                        sbom=sbom,
                        scanner=sbom_scanner,
                        repository=repository,
                    ),
                    signer=signer,
                    keyless=signing,
                )
        summary = report.summary()
        if not registry:
            # Its address is a random name inside the pipeline, of no use after the call.
            summary = summary.replace(f"{embedded.host}/", "") + (
                "\nThis release was made in the pipeline's own registry, which is discarded "
                "when this call ends: pass --registry to keep it, or call release-layout to "
                "save it as files."
            )
        return rendered(report, summary, format_)

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
        provenance: AttachProvenance = True,
        sbom: AttachSbom = True,
        sbom_scanner: SbomScanner = DEFAULT_SCANNER,
        deadline: Deadline = DEFAULT_DEADLINE,
    ) -> dagger.Directory:
        """Release into the embedded registry and return it as an OCI layout (export with -o)."""
        builds = VariantBuilds.stamped(source, version, revision, build_args, source_url)
        with core_errors():
            plans = release_job.parse_variant_table(variants)
            async with embedded_registry() as embedded:
                settings = Settings(
                    insecure_registries=frozenset([embedded.host]),
                    use_docker_config=False,
                    deadline=deadline,
                )
                report = await release_job.release(
                    plans,
                    builds.stager(embedded.service),
                    staging=embedded.staging,
                    registry=embedded.host,
                    repository=repository,
                    version=version,
                    settings=settings,
                    annotations=jobs.parse_annotations(annotations),
                    source_date_epoch=source_date_epoch or None,
                    stage_base=builds.stage_base(embedded.service) if source_date_epoch else None,
                    attach=builds.attach(
                        provenance=provenance,
                        sbom=sbom,
                        scanner=sbom_scanner,
                        repository=repository,
                    ),
                )
                async with open_client(settings) as client:
                    await write_layout(
                        client, parse_reference(report.target), Path(LAYOUT_DIRECTORY), version
                    )
        # The function runs in the module's scratch directory, which the engine can read.
        return dag.current_module().workdir(LAYOUT_DIRECTORY)
