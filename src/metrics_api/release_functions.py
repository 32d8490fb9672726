"""The Dagger functions for a whole release: make it, save it as files, rebuild it."""

from pathlib import Path
from typing import Annotated

import dagger
from dagger import Doc, dag

from metrics_api.access import RegistryAccess
from metrics_api.arguments import (
    DEFAULT_DEADLINE,
    AttachProvenance,
    AttachSbom,
    BuildArgs,
    CaFile,
    Deadline,
    DockerConfig,
    Format,
    IdentityToken,
    IdTokenRequestToken,
    IdTokenRequestUrl,
    IndexAnnotations,
    Insecure,
    Keyless,
    Password,
    RebuildArgs,
    ReleaseAttestations,
    Repository,
    Revision,
    SbomScanner,
    SigningKey,
    SigningKeyPassword,
    SigningTrustConfig,
    Source,
    SourceDateEpoch,
    SourceUrl,
    Username,
    VariantTable,
    Version,
    attestation_mode,
    check_format,
    rendered,
)
from metrics_api.builds import VariantBuilds, parse_build_args
from metrics_api.embedded import embedded_registry
from metrics_api.oci import inputs
from metrics_api.oci.registry.session import Settings, open_client
from metrics_api.oci.release import job as release_job
from metrics_api.oci.release.layout import write_layout
from metrics_api.oci.spec.reference import parse_reference
from metrics_api.pipeline_errors import PipelineError, core_errors
from metrics_api.rebuilds import rebuild_release
from metrics_api.registration import uncached
from metrics_api.scanner import DEFAULT_SCANNER
from metrics_api.signatures import (
    keyless_signing,
    open_signing_key,
)

LAYOUT_DIRECTORY = "metrics-api-oci"


class ReleaseFunctions:
    """``release``, ``release-layout`` and ``rebuild`` (part of the module's object)."""

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
            plans = release_job.parse_variant_table(variants, "--variants")
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
                    annotations=inputs.parse_annotations(annotations, "--annotations"),
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
            plans = release_job.parse_variant_table(variants, "--variants")
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
                    annotations=inputs.parse_annotations(annotations, "--annotations"),
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
