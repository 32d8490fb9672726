"""The Dagger functions on pushed variants and published indexes: assemble one, verify one."""

from typing import Annotated

from dagger import Doc

from metrics_api.access import RegistryAccess
from metrics_api.arguments import (
    DEFAULT_DEADLINE,
    Attestations,
    CaFile,
    CertificateIdentity,
    CertificateIdentityRegexp,
    CertificateOidcIssuer,
    Deadline,
    DockerConfig,
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
    RequireProvenance,
    RequireSbom,
    SigningKey,
    SigningKeyPassword,
    SigningTrustConfig,
    Target,
    Username,
    VerifyLedger,
    VerifyTrustConfig,
    attestation_mode,
    check_format,
    rendered,
)
from metrics_api.oci import inputs, jobs
from metrics_api.oci.registry.session import open_client
from metrics_api.pipeline_errors import PipelineError, core_errors
from metrics_api.registration import uncached
from metrics_api.signatures import (
    keyless_signing,
    keyless_verification,
    open_signing_key,
    public_keys,
)


class IndexFunctions:
    """``assemble`` and ``verify`` (part of the module's object, ``MetricsApi``)."""

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
            requests = inputs.parse_requests(variants, expect, ("--variants", "--expect"))
            signer = await open_signing_key(signing_key, signing_key_password)
            signing = await keyless_signing(
                keyless, identity_token, id_token_request_url, id_token_request_token, trust_config
            )
            async with open_client(await access.settings(target)) as client:
                report = await jobs.assemble(
                    client,
                    target,
                    requests,
                    annotations=inputs.parse_annotations(annotations, "--annotations"),
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
            ledger = inputs.parse_ledger(expect, "--expect")
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
