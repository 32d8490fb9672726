"""The session's local Sigstore signs keylessly for real, and verifies by identity.

sigstore-python signs an in-toto statement as DSSE (Fulcio certificate with an SCT from
TesseraCT, a Rekor v2 entry, an RFC 3161 timestamp) and verifies it by certificate
identity and issuer; cosign v3 signs and attests an image in a real registry keylessly,
and both cosign generations verify it by identity. Nothing leaves the machine: cosign
runs with a dead proxy for every non-loopback address and its own HOME.
"""

import json
import os
import time
from pathlib import Path

import httpx
import jwt
import pytest
from sigstore import dsse
from sigstore.errors import VerificationError
from sigstore.models import Bundle, ClientTrustConfig
from sigstore.oidc import ExpiredIdentity, IdentityError, IdentityToken, detect_credential
from sigstore.sign import SigningContext
from sigstore.verify import Verifier, policy
from support.cosign import Cosign, cosign
from support.docker29 import (
    OCI_CONFIG,
    OCI_MANIFEST,
    descriptor,
    json_bytes,
    push_blob,
    put_manifest,
)
from support.keyless import identity_flags, offline_env
from support.registry import Registry
from support.sigstore_stack import SigstoreStack

pytestmark = pytest.mark.integration

REPOSITORY = "sigstore-stack/demo"
FOREIGN_REPOSITORY = "someone-else/metrics-api"
FOREIGN_IDENTITY = (
    f"https://github.com/{FOREIGN_REPOSITORY}/.github/workflows/release.yml@refs/heads/main"
)
IN_TOTO = "application/vnd.in-toto+json"
SUBJECT_DIGEST = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"


def _trust(stack: SigstoreStack) -> ClientTrustConfig:
    return ClientTrustConfig.from_json(stack.trust_config_path.read_text())


def _statement() -> dsse.Statement:
    return (
        dsse.StatementBuilder()
        .subjects(
            [dsse.Subject(name="metrics-api", digest=dsse.DigestSet({"sha256": SUBJECT_DIGEST}))]
        )
        .predicate_type("https://slsa.dev/provenance/v1")
        .predicate({"buildDefinition": {"buildType": "https://example.com/test"}})
        .build()
    )


def _sign(stack: SigstoreStack, token: str) -> Bundle:
    ctx = SigningContext.from_trust_config(_trust(stack))
    with ctx.signer(IdentityToken(token)) as signer:
        return signer.sign_dsse(_statement())


def _identity(stack: SigstoreStack, identity: str | None = None) -> policy.Identity:
    return policy.Identity(
        identity=identity or stack.certificate_identity, issuer=stack.certificate_oidc_issuer
    )


def test_sigstore_python_signs_dsse_and_verifies_by_identity(
    sigstore_stack: SigstoreStack,
) -> None:
    stack = sigstore_stack
    bundle = _sign(stack, stack.issuer.issue_token())
    verifier = Verifier(trusted_root=_trust(stack).trusted_root)

    payload_type, payload = verifier.verify_dsse(bundle, _identity(stack))

    assert payload_type == IN_TOTO
    assert json.loads(payload)["subject"][0]["digest"] == {"sha256": SUBJECT_DIGEST}
    with pytest.raises(VerificationError, match="SANs do not match"):
        verifier.verify_dsse(bundle, _identity(stack, FOREIGN_IDENTITY))
    with pytest.raises(VerificationError, match="OIDCIssuer does not match"):
        verifier.verify_dsse(
            bundle,
            policy.Identity(
                identity=stack.certificate_identity,
                issuer="https://token.actions.githubusercontent.com",
            ),
        )


def test_bundle_has_rekor_v2_entry_and_rfc3161_timestamp(sigstore_stack: SigstoreStack) -> None:
    stack = sigstore_stack
    bundle = json.loads(_sign(stack, stack.issuer.issue_token()).to_json())
    trusted_root = json.loads(stack.trusted_root_path.read_text())

    material = bundle["verificationMaterial"]
    (entry,) = material["tlogEntries"]
    assert entry["kindVersion"]["version"] == "0.0.2"  # Rekor v2's entry types
    assert entry["logId"] == trusted_root["tlogs"][0]["logId"]
    assert "inclusionPromise" not in entry  # v2: an inclusion proof, no SET
    checkpoint = entry["inclusionProof"]["checkpoint"]["envelope"]
    assert checkpoint.splitlines()[0] == stack.host  # the origin sigstore-go expects
    assert len(material["timestampVerificationData"]["rfc3161Timestamps"]) == 1
    assert "certificate" in material  # v0.3 bundle: the leaf only


def test_foreign_identity_from_the_same_issuer(sigstore_stack: SigstoreStack) -> None:
    stack = sigstore_stack
    token = stack.issuer.issue_token(repository=FOREIGN_REPOSITORY)
    bundle = _sign(stack, token)
    verifier = Verifier(trusted_root=_trust(stack).trusted_root)

    verifier.verify_dsse(bundle, _identity(stack, FOREIGN_IDENTITY))
    with pytest.raises(VerificationError, match="SANs do not match"):
        verifier.verify_dsse(bundle, _identity(stack))


def test_expired_token_is_refused(sigstore_stack: SigstoreStack) -> None:
    issuer = sigstore_stack.issuer
    # Already expired: sigstore-python refuses it when it reads it (pyjwt checks exp).
    with pytest.raises(IdentityError, match="malformed or missing claims") as refused:
        IdentityToken(issuer.expired_token())
    assert isinstance(refused.value.__cause__, jwt.ExpiredSignatureError)

    # Expired between reading and signing: the signer refuses before asking Fulcio.
    token = IdentityToken(issuer.issue_token(lifetime=1.5))
    time.sleep(2.0)
    ctx = SigningContext.from_trust_config(_trust(sigstore_stack))
    with pytest.raises(ExpiredIdentity), ctx.signer(token):
        pass


def test_token_endpoint_serves_like_github_actions(
    sigstore_stack: SigstoreStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    issuer = sigstore_stack.issuer
    served = issuer.served
    refused = httpx.get(
        issuer.request_url + "&audience=sigstore",
        headers={"Authorization": "bearer not-the-request-token"},
        timeout=10.0,
    )
    assert refused.status_code == httpx.codes.UNAUTHORIZED
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", issuer.request_url)
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", issuer.request_token)
    assert issuer.served == served  # nothing fetched until asked

    token = detect_credential()  # sigstore-python's GitHub Actions ambient credential

    assert token is not None
    assert issuer.served == served + 1
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["aud"] == "sigstore"
    assert claims["job_workflow_ref"] in sigstore_stack.certificate_identity
    bundle = _sign(sigstore_stack, token)
    Verifier(trusted_root=_trust(sigstore_stack).trusted_root).verify_dsse(
        bundle, _identity(sigstore_stack)
    )


# --- cosign, keyless, against the session's registry -------------------------------------


def _push_image(registry: Registry, tag: str) -> str:
    """A one-layer OCI image (raw registry calls); its reference by digest."""
    layer = f"layer of {tag}".encode()
    layer_digest = push_blob(registry.host, REPOSITORY, layer)
    config = json_bytes(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
            "config": {},
        }
    )
    push_blob(registry.host, REPOSITORY, config)
    manifest = json_bytes(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, config),
            "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", layer)],
        }
    )
    digest = put_manifest(registry.host, REPOSITORY, tag, manifest, OCI_MANIFEST)
    return registry.ref(REPOSITORY, digest)


def _token_file(stack: SigstoreStack, directory: Path) -> str:
    """A fresh token in a file (cosign reads a path): no token on a command line."""
    path = directory / "oidc-token"
    path.write_text(stack.issuer.issue_token())
    path.chmod(0o600)
    return str(path)


def _sign_flags(stack: SigstoreStack, directory: Path) -> list[str]:
    return [
        "--yes",
        f"--identity-token={_token_file(stack, directory)}",
        f"--trusted-root={stack.trusted_root_path}",
        f"--signing-config={stack.signing_config_path}",
        "--allow-http-registry",
    ]


@pytest.fixture
def cosign_v3(tmp_path: Path) -> Cosign:
    return cosign("v3", tmp_path)


@pytest.fixture
def cosign_v2(tmp_path: Path) -> Cosign:
    return cosign("v2", tmp_path)


def test_cosign_v3_signs_keyless_and_verifies_by_identity(
    sigstore_stack: SigstoreStack,
    registry: Registry,
    cosign_v3: Cosign,
    cosign_v2: Cosign,
    tmp_path: Path,
) -> None:
    stack = sigstore_stack
    ref = _push_image(registry, "signed")
    env = offline_env(stack)

    signed = cosign_v3.run("sign", *_sign_flags(stack, tmp_path), ref, env=env)
    assert signed.returncode == 0, signed.stderr

    verified = cosign_v3.run("verify", *identity_flags(stack), ref, env=env)
    assert verified.returncode == 0, verified.stderr
    (claims,) = json.loads(verified.stdout)
    assert claims["critical"]["image"]["docker-manifest-digest"] == ref.split("@")[1]
    foreign = cosign_v3.run("verify", *identity_flags(stack, FOREIGN_IDENTITY), ref, env=env)
    assert foreign.returncode != 0
    assert "no matching CertificateIdentity" in foreign.stderr

    # cosign v2.6.5 reads v3's bundles (the referrers tag fallback), counting the TSA's
    # timestamp only when told: a Rekor v2 entry has no integrated time.
    v2 = [*identity_flags(stack), "--new-bundle-format", "--use-signed-timestamps"]
    verified_v2 = cosign_v2.run("verify", *v2, ref, env=env)
    assert verified_v2.returncode == 0, verified_v2.stderr
    without_tsa = cosign_v2.run(
        "verify", *identity_flags(stack), "--new-bundle-format", ref, env=env
    )
    assert without_tsa.returncode != 0
    assert "integrated timestamps: 0 < 1" in without_tsa.stderr
    foreign_v2 = cosign_v2.run(
        "verify",
        *identity_flags(stack, FOREIGN_IDENTITY),
        "--new-bundle-format",
        "--use-signed-timestamps",
        ref,
        env=env,
    )
    assert foreign_v2.returncode != 0
    assert "no matching CertificateIdentity" in foreign_v2.stderr


def test_cosign_v3_attests_keyless_and_both_generations_verify(
    sigstore_stack: SigstoreStack,
    registry: Registry,
    cosign_v3: Cosign,
    cosign_v2: Cosign,
    tmp_path: Path,
) -> None:
    stack = sigstore_stack
    ref = _push_image(registry, "attested")
    env = offline_env(stack)
    predicate = tmp_path / "provenance.json"
    predicate.write_text(json.dumps({"buildDefinition": {"buildType": "https://example.com/t"}}))

    attested = cosign_v3.run(
        "attest",
        *_sign_flags(stack, tmp_path),
        "--type=slsaprovenance1",
        f"--predicate={predicate}",
        ref,
        env=env,
    )
    assert attested.returncode == 0, attested.stderr

    kind = "--type=slsaprovenance1"
    v3 = cosign_v3.run("verify-attestation", kind, *identity_flags(stack), ref, env=env)
    assert v3.returncode == 0, v3.stderr
    envelope = json.loads(v3.stdout.splitlines()[0])
    assert envelope["payloadType"] == IN_TOTO
    v2_flags = [*identity_flags(stack), "--new-bundle-format", "--use-signed-timestamps"]
    v2 = cosign_v2.run("verify-attestation", kind, *v2_flags, ref, env=env)
    assert v2.returncode == 0, v2.stderr
    foreign = cosign_v3.run(
        "verify-attestation", kind, *identity_flags(stack, FOREIGN_IDENTITY), ref, env=env
    )
    assert foreign.returncode != 0


def test_the_stack_serves_only_on_its_host(sigstore_stack: SigstoreStack) -> None:
    stack = sigstore_stack
    for url in (stack.fulcio_url, stack.ctlog_url, stack.rekor_url, stack.tsa_url):
        assert httpx.URL(url).host == stack.host
    assert stack.certificate_oidc_issuer == stack.issuer_url
    assert os.path.commonpath([stack.trust_config_path, stack.directory]) == str(stack.directory)
