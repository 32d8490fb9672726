"""The arguments of the Dagger functions, each declared once with the text its flag shows.

`dagger call` derives every flag from a function's own signature, so the functions list
their arguments one by one; what an argument means is declared here only.
"""

import json
from typing import Annotated

import dagger
from dagger import DefaultPath, Doc, Ignore
from pydantic import BaseModel

from metrics_api.oci.errors import InvalidInputError
from metrics_api.oci.registry.session import Settings
from metrics_api.oci.release.attestations import keep_attestations
from metrics_api.oci.release.job import DEFAULT_VARIANTS
from metrics_api.pipeline_errors import PipelineError

DEFAULT_DEADLINE = Settings.deadline

# What to build.
Source = Annotated[
    dagger.Directory,
    Doc("the repository; variant folders are relative to it"),
    DefaultPath("/"),
    Ignore([".git", "**/__pycache__", ".venv", "sdk", "tests"]),
]
VariantSource = Annotated[dagger.Directory, Doc("the variant's source folder (build context)")]
BuildPlatform = Annotated[dagger.Platform, Doc("the platform to build for, e.g. linux/arm64")]
Dockerfile = Annotated[str, Doc("Dockerfile path inside the source")]
# `dagger call --help` shows no default for a list (v0.21.8), so the text carries it.
VariantTable = Annotated[
    list[str],
    Doc(
        "the variant table: PLATFORM=DIR[:DOCKERFILE], one per platform (default "
        f"{','.join(DEFAULT_VARIANTS)})"
    ),
]
BuildArgs = Annotated[list[str], Doc("extra build arguments, KEY=VALUE")]
RebuildArgs = Annotated[
    list[str],
    Doc(
        "KEY=VALUE of each build argument the provenance records only by its SHA-256 (the "
        "values of VERSION, REVISION and SOURCE are recorded)"
    ),
]
Revision = Annotated[str, Doc("source revision stamped into the images")]
SourceUrl = Annotated[
    str, Doc("URL of the source repository, stamped as org.opencontainers.image.source")
]

# Where it goes.
Registry = Annotated[str, Doc("registry HOST[:PORT] to push to")]
Repository = Annotated[str, Doc("repository in the registry")]
Version = Annotated[str, Doc("the release tag; variants get VERSION-ARCH")]
Target = Annotated[str, Doc("REGISTRY/REPOSITORY:TAG to release")]
Ledger = Annotated[list[str], Doc("PLATFORM=DIGEST recorded at push time")]
VerifyLedger = Annotated[
    list[str],
    Doc(
        "PLATFORM=DIGEST recorded at push time; without it, --public-key or "
        "--certificate-identity verifies by the signature alone"
    ),
]
IndexAnnotations = Annotated[list[str], Doc("index annotations, KEY=VALUE")]
SourceDateEpoch = Annotated[
    str,
    Doc(
        "seconds since 1970, e.g. the commit's (git log -1 --format=%ct): every image time "
        "later than it is clamped to it, so the same source gives the same digests"
    ),
]
Attestations = Annotated[
    str,
    Doc(
        "keep: carry each variant's provenance/SBOM attestation manifests into the index, "
        "right after its image; drop: the platform images only"
    ),
]
# A release's own provenance is in its index whatever this says (oci/release/job.py).
ReleaseAttestations = Annotated[
    str,
    Doc(
        "keep or drop the attestation manifests staged with each variant (the engine's "
        "builds stage none); the provenance of --provenance is in the index either way"
    ),
]
# `provenance` is no flag of `dagger call` (tests/dagger/test_flags.py checks every name).
AttachProvenance = Annotated[
    bool,
    Doc(
        "attach SLSA provenance for each variant (as Docker 29 does); "
        "--provenance=false turns it off"
    ),
]
# `sbom` and `sbom-scanner` are no flags of `dagger call` (tests/dagger/test_flags.py).
AttachSbom = Annotated[
    bool,
    Doc(
        "attach an SPDX SBOM of each variant, made by --sbom-scanner from its root filesystem "
        "(as docker buildx build --sbom=true does); --sbom=false turns it off"
    ),
]
SbomScanner = Annotated[
    str,
    Doc(
        "the SBOM scanner image (syft; a mirror's copy works), run offline; the digest the "
        "engine pulls is recorded in each SBOM and provenance"
    ),
]
RequireSbom = Annotated[
    bool,
    Doc(
        "fail unless each platform has exactly one SPDX SBOM attestation about its image that "
        "reads as SPDX 2.3 and lists packages"
    ),
]
RequireProvenance = Annotated[
    bool,
    Doc("fail unless each platform has exactly one SLSA provenance attestation about its image"),
]

# Who signs (signatures.py). No argument text has a back quote: `dagger call --help` (pflag's
# UnquoteUsage) would show the quoted words as the flag's value (tests/dagger/test_flags.py).
SigningKey = Annotated[
    dagger.Secret | None,
    Doc(
        "sign the index, each image and each attestation by digest with this private key: "
        "cosign.key (from cosign generate-key-pair), or a PEM EC P-256 key, e.g. "
        "file:cosign.key"
    ),
]
SigningKeyPassword = Annotated[
    dagger.Secret | None, Doc("the signing key's password, e.g. env:COSIGN_PASSWORD")
]
PublicKeys = Annotated[
    list[dagger.File],
    Doc(
        "public keys (cosign.pub): the index and each image must carry a signature by one of "
        "them, and each image with provenance or an SBOM the signed attestation"
    ),
]
# Keyless signing (Sigstore): a Fulcio certificate for the CI job's OIDC identity.
Keyless = Annotated[
    bool,
    Doc(
        "sign keyless too (Sigstore): a certificate for the CI job's OIDC identity, each "
        "signature logged and timestamped, stored as bundles referring to what they sign"
    ),
]
IdentityToken = Annotated[
    dagger.Secret | None,
    Doc(
        "with --keyless: the OIDC identity token (audience sigstore), read right before "
        "signing, e.g. env:SIGSTORE_ID_TOKEN (GitLab id_tokens)"
    ),
]
IdTokenRequestUrl = Annotated[
    dagger.Secret | None,
    Doc(
        "with --keyless on GitHub Actions: env:ACTIONS_ID_TOKEN_REQUEST_URL; a fresh token is "
        "asked for right before signing (the job needs the permission id-token: write)"
    ),
]
IdTokenRequestToken = Annotated[
    dagger.Secret | None,
    Doc("with --id-token-request-url: env:ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
]
SigningTrustConfig = Annotated[
    dagger.File | None,
    Doc(
        "with --keyless: the ClientTrustConfig of the Sigstore to sign with (default: the "
        "public-good Sigstore, sigstore.dev)"
    ),
]
CertificateIdentity = Annotated[
    str,
    Doc(
        "require keyless bundles by this identity (the certificate's SAN, e.g. "
        "https://github.com/OWNER/REPO/.github/workflows/release.yml@refs/heads/main), with "
        "--certificate-oidc-issuer"
    ),
]
CertificateIdentityRegexp = Annotated[
    str,
    Doc("as --certificate-identity, any identity this regular expression finds (anchor it)"),
]
CertificateOidcIssuer = Annotated[
    str,
    Doc("the issuer of the signer's token, e.g. https://token.actions.githubusercontent.com"),
]
VerifyTrustConfig = Annotated[
    dagger.File | None,
    Doc(
        "the ClientTrustConfig or trusted root of the Sigstore the bundles are from (default: "
        "the public-good Sigstore, sigstore.dev)"
    ),
]

# How registries are reached (RegistryAccess).
Insecure = Annotated[list[str], Doc("registries (HOST[:PORT]) reached over plain HTTP")]
Username = Annotated[str, Doc("registry username")]
Password = Annotated[dagger.Secret | None, Doc("registry password, e.g. env:REGISTRY_PASSWORD")]
DockerConfig = Annotated[
    dagger.Secret | None,
    Doc(
        "a Docker config.json whose auths hold credentials for each registry, e.g. "
        "file:$HOME/.docker/config.json or env:DOCKER_AUTH_CONFIG (helpers cannot run here)"
    ),
]
CaFile = Annotated[
    dagger.File | None,
    Doc("PEM certificates of a private registry's authority, trusted besides public ones"),
]
Deadline = Annotated[float, Doc("seconds the registry work may take, retries included")]

# `dagger call` owns --output (-o) and --json (-j): an argument of either name breaks every
# call that passes a flag (cmd/dagger/flags.go, AddFlag), so the report's form is `format`.
Format = Annotated[str, Doc("text (a readable summary) or json (the whole report)")]
FORMATS = ("text", "json")


def check_format(format_: str) -> None:
    """Refuse an unknown --format before anything is built or pushed."""
    if format_ not in FORMATS:
        msg = f"expected --format text or json, found {format_!r}"
        raise PipelineError(msg)


def attestation_mode(mode: str) -> bool:
    """Whether to keep attestations; an unknown mode is refused before any work."""
    try:
        return keep_attestations(mode)
    except InvalidInputError:
        msg = f"expected --attestations keep or drop, found {mode!r}"
        raise PipelineError(msg) from None


def rendered(report: BaseModel, text: str, format_: str) -> str:
    """The result as printed: ending in a newline, so the engine's next line starts clean."""
    shown = json.dumps(report.model_dump(mode="json"), indent=2) if format_ == "json" else text
    return shown + "\n"
