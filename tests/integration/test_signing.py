"""Signed releases, checked by real cosign v2.6.5 and v3.1.3 and by our own ``verify``.

Keys come from real ``cosign generate-key-pair``; buildah stands in for the engine's
builds (``support.stager``). Storage snapshots prove that a refused release and an
identical re-run write no signature.
"""

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from support.build_facts import Facts
from support.containers import ContainersEnv
from support.cosign import KeyPair, Kit, make_kit
from support.docker29 import get_blob, get_manifest, push_blob, put_manifest
from support.oci_cli import Variants, run_cli, run_cli_text
from support.registry import Registry
from support.release_runs import run_release as release_run
from support.stager import BuildahStager, snapshot

from metrics_api.oci import TagConflictError
from metrics_api.oci.release.release_reports import ReleaseReport
from metrics_api.oci.signing import cosign_format
from metrics_api.oci.signing.keys import SigningKey, load_signing_key
from metrics_api.oci.spec.models import parse_manifest
from metrics_api.oci.spec.reference import parse_reference

pytestmark = pytest.mark.integration

REPOSITORY = "metrics-api"
PASSWORD = "correct horse battery staple"  # noqa: S105 - a test key's password


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    return make_kit(tmp_path_factory.mktemp("cosign"), PASSWORD)


def signer_of(pair: KeyPair) -> SigningKey:
    return load_signing_key(
        pair.private.read_bytes(),
        pair.password,
        where="test key",
        given_in="the test",
    )


def run_release(  # noqa: PLR0913 - the knobs a test turns
    staging: Registry,
    target: Registry,
    stage: BuildahStager,
    signer: SigningKey | None,
    *,
    facts: Facts | None = None,
    dry_run: bool = False,
    version: str = "v4.0.0",
) -> ReleaseReport:
    return release_run(
        staging,
        target,
        stage,
        version=version,
        dry_run=dry_run,
        provenance=facts or Facts(),
        signer=signer,
    )


def pinned(target: Registry, digest: str) -> str:
    return target.ref(REPOSITORY, digest)


def images_of(report: ReleaseReport) -> list[str]:
    return [variant.digest for variant in report.variants]


def test_cosign_v2_and_v3_verify_a_signed_release_on_every_registry(
    staging: Registry,
    fresh_kind_registry: Registry,
    containers: ContainersEnv,
    kit: Kit,
) -> None:
    cosigns, key_pair, other_pair = kit.tools, kit.key, kit.other
    target = fresh_kind_registry
    report = run_release(staging, target, BuildahStager(containers), signer_of(key_pair))

    assert report.ok, report.summary()
    index = report.assembly.digest
    for generation, tool in cosigns.items():
        for digest in [index, *images_of(report)]:
            verified = tool.verify(pinned(target, digest), key_pair.public)
            assert verified.returncode == 0, f"{generation} {digest}: {verified.stderr}"
            payload = json.loads(verified.stdout)
            assert payload[0]["critical"]["image"]["docker-manifest-digest"] == digest
            foreign = tool.verify(pinned(target, digest), other_pair.public)
            assert foreign.returncode != 0, f"{generation} accepted another key on {digest}"
        for digest in images_of(report):
            attested = tool.verify_attestation(pinned(target, digest), key_pair.public)
            assert attested.returncode == 0, f"{generation} {digest}: {attested.stderr}"
            statement = json.loads(base64.b64decode(json.loads(attested.stdout)["payload"]))
            assert statement["subject"][0]["digest"]["sha256"] == digest.split(":")[1]
            foreign = tool.verify_attestation(pinned(target, digest), other_pair.public)
            assert foreign.returncode != 0, f"{generation} accepted another key's attestation"

    expect = [f"--expect={v.platform}={v.digest}" for v in report.variants]
    ours = run_cli(
        "verify", target.ref(REPOSITORY, "v4.0.0"), *expect, "--public-key", str(key_pair.public)
    )
    assert ours.code == 0, ours.stderr
    checks = {c["name"]: c for c in ours.report["checks"]}
    assert checks["signature index"]["ok"] is True
    for platform in ("linux/amd64", "linux/arm64"):
        assert checks[f"signature {platform} image"]["ok"] is True
        assert checks[f"signed provenance {platform} image"]["ok"] is True


def test_every_tag_a_signed_release_moves_was_signed_first(
    staging: Registry, target: Registry, containers: ContainersEnv, kit: Kit
) -> None:
    key_pair = kit.key
    report = run_release(staging, target, BuildahStager(containers), signer_of(key_pair))

    written = report.assembly.written
    signed = [
        i for i, line in enumerate(written) if line.startswith(("signature ", "attestation "))
    ]
    tags = [i for i, line in enumerate(written) if line.startswith("tag ")]
    index = written.index(f"index {report.assembly.digest} by digest")
    assert len(signed) == 5, written  # the index, two images, two provenance statements
    assert index < min(signed), written
    assert max(signed) < min(tags), written
    assert written[-1] == f"tag {target.host}/{REPOSITORY}:v4.0.0 (created)"
    key_id = signer_of(key_pair).public.key_id
    assert (
        f"signature of index {report.assembly.digest}: signed by key {key_id}" in report.summary()
    )


def test_an_identical_rerun_with_the_same_key_writes_nothing(
    staging: Registry,
    target: Registry,
    fresh_registry: Registry,
    containers: ContainersEnv,
    kit: Kit,
) -> None:
    key_pair = kit.key
    stage, signer = BuildahStager(containers), signer_of(key_pair)
    run_release(staging, target, stage, signer)
    before = snapshot(target)

    # A new pipeline's staging registry is empty: the kept statements are read from the target.
    again = run_release(fresh_registry, target, stage, signer)

    assert snapshot(target) == before, "ECDSA differs run to run: no second signature"
    assert again.assembly.written == []
    assert len(again.assembly.signatures) == 5
    assert all("already signed by key" in line for line in again.assembly.signatures)


def test_another_key_adds_its_signature_next_to_the_first(
    staging: Registry,
    target: Registry,
    containers: ContainersEnv,
    kit: Kit,
) -> None:
    cosigns, key_pair, other_pair = kit.tools, kit.key, kit.other
    stage = BuildahStager(containers)
    first = run_release(staging, target, stage, signer_of(key_pair))

    second = run_release(staging, target, stage, signer_of(other_pair))

    assert second.assembly.tag_action == "unchanged"
    assert len(second.assembly.written) == 5, "only signatures: no tag moved"
    index = first.assembly.digest
    assert any(
        line.startswith(f"signature of index {index}: signed by key")
        and line.endswith("; 1 by other keys kept beside it")
        for line in second.assembly.signatures
    ), second.assembly.signatures
    for pair in (key_pair, other_pair):
        for tool in cosigns.values():
            assert tool.verify(pinned(target, index), pair.public).returncode == 0
    layers = get_manifest(target.host, REPOSITORY, f"sha256-{index.split(':')[1]}.sig").json()
    assert len(layers["layers"]) == 2


def test_a_refused_release_writes_no_signature(
    staging: Registry, target: Registry, containers: ContainersEnv, kit: Kit
) -> None:
    key_pair = kit.key
    stage = BuildahStager(containers)
    run_release(staging, target, stage, signer_of(key_pair))
    before = snapshot(target)
    rebased = Facts()
    rebased.base = "sha256:" + "3" * 64

    with pytest.raises(TagConflictError):
        run_release(staging, target, stage, signer_of(key_pair), facts=rebased)

    assert snapshot(target) == before


def test_the_dry_run_says_what_would_be_signed_and_writes_nothing(
    staging: Registry, target: Registry, containers: ContainersEnv, kit: Kit
) -> None:
    key_pair = kit.key
    before = snapshot(target)

    planned = run_release(
        staging, target, BuildahStager(containers), signer_of(key_pair), dry_run=True
    )

    assert snapshot(target) == before
    summary = planned.summary()
    key_id = signer_of(key_pair).public.key_id
    assert (
        f"signature of index {planned.assembly.digest}: would be signed by key {key_id}" in summary
    )
    for variant in planned.variants:
        image = f"{variant.platform} image {variant.digest}"
        assert f"signature of {image}: would be signed" in summary
        assert f"attestation of {image}: would be signed" in summary


def tamper(target: Registry, digest: str) -> None:
    """Replace the signature in ``digest``'s ``.sig`` layer with a signature of other bytes."""
    tag = f"sha256-{digest.split(':')[1]}.sig"
    manifest = get_manifest(target.host, REPOSITORY, tag).json()
    stranger = ec.generate_private_key(ec.SECP256R1())
    forged = SigningKey(stranger).sign(b"not the payload")
    manifest["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"] = base64.b64encode(
        forged
    ).decode()
    body = json.dumps(manifest).encode()
    put_manifest(target.host, REPOSITORY, tag, body, "application/vnd.oci.image.manifest.v1+json")


def tamper_statement(target: Registry, digest: str) -> None:
    """Change the statement in ``digest``'s ``.att`` envelope, keeping its signature."""
    tag = f"sha256-{digest.split(':')[1]}.att"
    manifest = get_manifest(target.host, REPOSITORY, tag).json()
    layer = manifest["layers"][0]
    envelope = json.loads(get_blob(target.host, REPOSITORY, layer["digest"]))
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["predicate"]["runDetails"]["builder"]["id"] = "urn:someone-else"
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    forged = json.dumps(envelope).encode()
    layer["digest"], layer["size"] = push_blob(target.host, REPOSITORY, forged), len(forged)
    body = json.dumps(manifest).encode()
    put_manifest(target.host, REPOSITORY, tag, body, "application/vnd.oci.image.manifest.v1+json")


def test_a_missing_or_tampered_signature_fails_naming_the_digest(
    staging: Registry,
    target: Registry,
    containers: ContainersEnv,
    kit: Kit,
) -> None:
    cosigns, key_pair, other_pair = kit.tools, kit.key, kit.other
    stage = BuildahStager(containers)
    unsigned = run_release(staging, target, stage, None)
    ref = target.ref(REPOSITORY, "v4.0.0")
    expect = [f"--expect={v.platform}={v.digest}" for v in unsigned.variants]
    missing = run_cli("verify", ref, *expect, "--public-key", str(key_pair.public))
    assert missing.code == 1
    checks = {c["name"]: c for c in missing.report["checks"]}
    index = unsigned.assembly.digest
    assert checks["signature index"]["detail"] == (
        f"index {index} has no signature (sha256-{index.split(':')[1]}.sig is absent or empty)"
    )

    signed = run_release(staging, target, stage, signer_of(key_pair))  # adds signatures only
    amd64 = signed.variants[0].digest
    tamper(target, amd64)
    for generation, tool in cosigns.items():
        rejected = tool.verify(pinned(target, amd64), key_pair.public)
        assert rejected.returncode != 0, f"{generation} accepted a tampered signature"
    arm64 = signed.variants[1].digest
    tamper_statement(target, arm64)
    for generation, tool in cosigns.items():
        rejected = tool.verify_attestation(pinned(target, arm64), key_pair.public)
        assert rejected.returncode != 0, f"{generation} accepted a tampered statement"
    tampered = run_cli("verify", ref, *expect, "--public-key", str(key_pair.public))
    assert tampered.code == 1
    assert tampered.stderr == (
        "error: verification failed: signature linux/amd64 image, "
        "signed provenance linux/arm64 image\n"
    )
    failed = {c["name"]: c["detail"] for c in tampered.report["checks"] if not c["ok"]}
    assert sorted(failed) == ["signature linux/amd64 image", "signed provenance linux/arm64 image"]
    assert failed["signature linux/amd64 image"].startswith(
        f"linux/amd64 image {amd64} has no valid signature"
    )
    assert failed["signed provenance linux/arm64 image"].startswith(
        f"linux/arm64 image {arm64} carries provenance but no SLSA provenance about it signed"
    )

    either = run_cli(
        "verify",
        ref,
        *expect,
        "--public-key",
        str(other_pair.public),
        "--public-key",
        str(key_pair.public),
    )
    assert sorted(c["name"] for c in either.report["checks"] if not c["ok"]) == [
        "signature linux/amd64 image",
        "signed provenance linux/arm64 image",
    ], "the index and the rest verify with any of the keys"


def test_the_command_line_signs_an_assembly_with_a_cosign_key(
    variants: Variants, kit: Kit, tmp_path: Path
) -> None:
    cosigns, key_pair = kit.tools, kit.key
    target = variants.ref("signed-cli")
    flags = [
        *variants.variant_flags(),
        "--attestations",
        "keep",
        "--signing-key",
        str(key_pair.private),
    ]
    done = run_cli("assemble", target, *flags, env={"COSIGN_PASSWORD": PASSWORD})
    assert done.code == 0, done.stderr
    index = done.report["digest"]
    for tool in cosigns.values():
        assert tool.verify(variants.ref(index), key_pair.public).returncode == 0
        assert tool.verify(variants.ref(variants.arm64), key_pair.public).returncode == 0

    # A PKCS#8 PEM key this suite makes, unencrypted: real cosign verifies its signatures.
    plain = ec.generate_private_key(ec.SECP256R1())
    pem_key, pem_pub = tmp_path / "plain.pem", tmp_path / "plain.pub"
    pem_key.write_bytes(
        plain.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pem_pub.write_bytes(SigningKey(plain).public.pem)
    again = run_cli(
        "assemble",
        target,
        *variants.variant_flags(),
        "--attestations",
        "keep",
        "--signing-key",
        str(pem_key),
    )
    assert again.code == 0, again.stderr
    for tool in cosigns.values():
        assert tool.verify(variants.ref(index), pem_pub).returncode == 0


def test_a_wrong_password_is_one_line_that_shows_no_secret(variants: Variants, kit: Kit) -> None:
    key_pair = kit.key
    wrong = "wrong-password-1234"
    failed = run_cli_text(
        "assemble",
        variants.ref("signed-wrong"),
        *variants.variant_flags(),
        "--signing-key",
        str(key_pair.private),
        env={"COSIGN_PASSWORD": wrong},
    )
    assert failed.returncode == 2
    assert failed.stderr == (
        f"error: expected the password of the cosign private key --signing-key "
        f"{key_pair.private}, found one that does not open it; give the password the key was "
        "made with in $COSIGN_PASSWORD\n"
    )
    key_text = key_pair.private.read_text()
    body = "".join(key_text.splitlines()[1:-1])
    for secret in (wrong, PASSWORD, body[:40]):
        assert secret not in failed.stdout + failed.stderr


def test_a_signature_real_cosign_made_is_found_and_not_made_again(
    staging: Registry, target: Registry, containers: ContainersEnv, kit: Kit
) -> None:
    stage, signer = BuildahStager(containers), signer_of(kit.key)
    unsigned = run_release(staging, target, stage, None)
    index = unsigned.assembly.digest
    tool = kit.tools["v2"]
    signed = tool.run(
        "sign",
        "--key",
        str(kit.key.private),
        "--tlog-upload=false",
        "--allow-http-registry=true",
        "--yes",
        pinned(target, index),
        env={"COSIGN_PASSWORD": PASSWORD},
    )
    assert signed.returncode == 0, signed.stderr
    # What cosign wrote is what we write, byte for byte: the manifest, its configuration, the
    # payload (only the signature in the annotation differs run to run).
    tag = f"sha256-{index.split(':')[1]}.sig"
    written = get_manifest(target.host, REPOSITORY, tag)
    layers = cosign_format.existing_layers(parse_manifest(written.body, written.media_type, tag))
    config = cosign_format.storage_config(layers)
    repository = parse_reference(target.ref(REPOSITORY))
    assert written.body == cosign_format.storage_manifest(config, layers)
    assert get_blob(target.host, REPOSITORY, json.loads(written.body)["config"]["digest"]) == config
    assert get_blob(target.host, REPOSITORY, str(layers[0]["digest"])) == (
        cosign_format.simple_signing_payload(repository, index)
    )

    again = run_release(staging, target, stage, signer)

    key_id = signer.public.key_id
    assert f"signature of index {index}: already signed by key {key_id}, nothing written" in (
        again.assembly.signatures
    )
    assert not any(f"sha256-{index.split(':')[1]}.sig" in w for w in again.assembly.written)
    assert len(again.assembly.written) == 4, "the images and their statements only"


def test_a_consumer_verifies_by_the_publishers_key_alone(
    staging: Registry,
    target: Registry,
    containers: ContainersEnv,
    kit: Kit,
) -> None:
    """No ledger: the signed index's own entries stand for it; every child is still checked."""
    report = run_release(staging, target, BuildahStager(containers), signer_of(kit.key))
    ref = target.ref(REPOSITORY, "v4.0.0")
    by_key = run_cli("verify", ref, "--public-key", str(kit.key.public))
    assert by_key.code == 0, by_key.stderr
    assert by_key.report["ledger"] == "index"
    checks = {c["name"]: c for c in by_key.report["checks"]}
    for variant in report.variants:
        assert checks[f"ledger {variant.platform}"]["detail"] == (
            f"no ledger given, the index's own: expected exactly one entry {variant.digest}, "
            f"found {variant.digest}"
        )
        assert checks[f"pull {variant.platform}"]["ok"]
        assert checks[f"child {variant.platform}"]["ok"]
        assert checks[f"signature {variant.platform} image"]["ok"]
        assert checks[f"signed provenance {variant.platform} image"]["ok"]
    assert checks["signature index"]["ok"]
    assert checks["attestations name images"]["ok"]
    text = run_cli_text("verify", ref, "--public-key", str(kit.key.public))
    assert "ok (no ledger given: the index's own entries, which its signature vouches for)" in (
        text.stdout
    )

    other = run_cli("verify", ref, "--public-key", str(kit.other.public))
    assert other.code == 1
    assert "signature index" in other.stderr

    unsigned = run_release(staging, target, BuildahStager(containers), None, version="v4.0.1")
    assert unsigned.ok
    missing = run_cli(
        "verify", target.ref(REPOSITORY, "v4.0.1"), "--public-key", str(kit.key.public)
    )
    assert missing.code == 1
    assert "has no signature" in next(
        c["detail"] for c in missing.report["checks"] if c["name"] == "signature index"
    )

    neither = run_cli_text("verify", ref)
    assert neither.returncode == 2
    assert neither.stderr == (
        "error: expected at least one PLATFORM=DIGEST expectation, or a public key or a "
        "certificate identity to verify the index by, found none; pass --expect "
        "PLATFORM=DIGEST for each platform, or --public-key (or --certificate-identity with "
        "--certificate-oidc-issuer) to verify by the publisher's signature alone\n"
    )
