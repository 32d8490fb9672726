"""Keyless releases on a local Sigstore, checked by real cosign v2.6.5 and v3.1.3 and by ours.

The session's Sigstore (``support.sigstore_stack``: Fulcio, TesseraCT, Rekor v2, a
timestamp authority and an OIDC issuer that mints GitHub Actions' claims) signs; buildah
stands in for the engine's builds. Storage snapshots prove that a refused or failing
release and an identical re-run write no bundle.
"""

import json
from pathlib import Path

import anyio
import pytest
from support.build_facts import Facts
from support.containers import ContainersEnv
from support.cosign import Cosign, Kit, cosign, make_kit
from support.docker29 import get_blob, get_manifest, push_blob, put_manifest, sha256_digest
from support.keyless import IssuedTokens, cosign_verify, keyless, trust_of
from support.oci_cli import run_cli
from support.oidc_issuer import DEFAULT_LIFETIME
from support.registry import Registry
from support.release_runs import run_release
from support.sigstore_stack import SigstoreStack
from support.stager import BuildahStager, snapshot

from metrics_api.oci import TagConflictError
from metrics_api.oci.errors import InvalidInputError, SigningError
from metrics_api.oci.registry.referrers import fallback_tag
from metrics_api.oci.release.job import VariantPlan
from metrics_api.oci.release.release_reports import ReleaseReport
from metrics_api.oci.signing.bundles import BUNDLE
from metrics_api.oci.signing.identity_tokens import MARGIN_SECONDS, GitHubActionsToken
from metrics_api.oci.signing.keyless import SigstoreTrust
from metrics_api.oci.signing.keyless_store import KeylessSigning
from metrics_api.oci.signing.keys import load_signing_key
from metrics_api.oci.spec.reference import parse_reference

pytestmark = pytest.mark.integration

REPOSITORY = "metrics-api"
FOREIGN = "someone-else/metrics-api"
PASSWORD = "correct horse battery staple"  # noqa: S105 - a test key's password


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Cosign]:
    home = tmp_path_factory.mktemp("cosign-keyless")
    return {generation: cosign(generation, home) for generation in ("v2", "v3")}


def release(  # noqa: PLR0913 - the knobs a test turns
    staging: Registry,
    target: Registry,
    containers: ContainersEnv,
    signing: KeylessSigning,
    *,
    facts: Facts | None = None,
    dry_run: bool = False,
    stage: BuildahStager | None = None,
) -> ReleaseReport:
    return run_release(
        staging,
        target,
        stage or BuildahStager(containers),
        version="v5.0.0",
        dry_run=dry_run,
        provenance=facts or Facts(),
        keyless=signing,
    )


def images_of(report: ReleaseReport) -> list[str]:
    return [variant.digest for variant in report.variants]


def pinned(target: Registry, digest: str) -> str:
    return target.ref(REPOSITORY, digest)


def identity_args(stack: SigstoreStack, identity: str | None = None) -> list[str]:
    return [
        "--certificate-identity",
        identity or stack.certificate_identity,
        "--certificate-oidc-issuer",
        stack.certificate_oidc_issuer,
        "--trust-config",
        str(stack.trust_config_path),
    ]


def test_cosign_v2_and_v3_verify_a_keyless_release_by_identity_on_every_registry(
    staging: Registry,
    fresh_kind_registry: Registry,
    containers: ContainersEnv,
    sigstore_stack: SigstoreStack,
    tools: dict[str, Cosign],
) -> None:
    stack, target = sigstore_stack, fresh_kind_registry
    tokens = IssuedTokens(stack)

    report = release(staging, target, containers, keyless(stack, tokens))

    assert report.ok, report.summary()
    assert tokens.reads == 2, "read once before the builds, once right before signing"
    index = report.assembly.digest
    foreign = stack.issuer.certificate_identity(repository=FOREIGN)
    for generation, tool in tools.items():
        for digest in [index, *images_of(report)]:
            verified = cosign_verify(tool, generation, stack, pinned(target, digest))
            assert verified.returncode == 0, f"{generation} {digest}: {verified.stderr}"
            claims = json.loads(verified.stdout.strip().splitlines()[-1])
            assert any(c["critical"]["image"]["docker-manifest-digest"] == digest for c in claims)
            other = cosign_verify(tool, generation, stack, pinned(target, digest), identity=foreign)
            assert other.returncode != 0, f"{generation} accepted another identity on {digest}"
        for digest in images_of(report):
            ref = pinned(target, digest)
            attested = cosign_verify(tool, generation, stack, ref, kind="slsaprovenance1")
            assert attested.returncode == 0, f"{generation} {digest}: {attested.stderr}"
            other = cosign_verify(
                tool, generation, stack, ref, kind="slsaprovenance1", identity=foreign
            )
            assert other.returncode != 0

    ours = run_cli("verify", target.ref(REPOSITORY, "v5.0.0"), *identity_args(stack))
    assert ours.code == 0, ours.stderr
    checks = {c["name"]: c for c in ours.report["checks"]}
    assert checks["keyless signature index"]["detail"] == (
        f"signature of index {index} by {stack.certificate_identity} "
        f"(issuer {stack.certificate_oidc_issuer})"
    )
    for platform in ("linux/amd64", "linux/arm64"):
        assert checks[f"keyless signature {platform} image"]["ok"] is True
        assert checks[f"keyless signed provenance {platform} image"]["ok"] is True
    refused = run_cli("verify", target.ref(REPOSITORY, "v5.0.0"), *identity_args(stack, foreign))
    assert refused.code == 1
    failed = {c["name"]: c for c in refused.report["checks"] if not c["ok"]}
    assert (
        f"index {index} has no signature bundle by {foreign}"
        in (failed["keyless signature index"]["detail"])
    )


def test_bundles_are_written_after_the_index_verified_and_before_any_tag(
    staging: Registry,
    target: Registry,
    containers: ContainersEnv,
    sigstore_stack: SigstoreStack,
) -> None:
    report = release(staging, target, containers, keyless(sigstore_stack))

    written = report.assembly.written
    bundles = [i for i, line in enumerate(written) if line.startswith("bundle ")]
    tags = [i for i, line in enumerate(written) if line.startswith("tag ")]
    index = written.index(f"index {report.assembly.digest} by digest")
    assert len(bundles) == 5, written  # the index, two images, two provenance statements
    assert index < min(bundles) < max(bundles) < min(tags), written
    who = f"keyless by {sigstore_stack.certificate_identity}"
    fallback = fallback_tag(parse_reference(target.ref(REPOSITORY, "x")), report.assembly.digest)
    line = (
        f"signature of index {report.assembly.digest}: signed {who} "
        f"(issuer {sigstore_stack.certificate_oidc_issuer}), stored as referrers, listed in "
        f"{fallback.tag}"
    )
    assert line in report.assembly.signatures, report.assembly.signatures
    assert f"  {line}" in report.summary().splitlines()
    listed = get_manifest(target.host, REPOSITORY, fallback.tag).json()
    assert [entry["artifactType"] for entry in listed["manifests"]] == [BUNDLE]


def test_an_identical_rerun_by_the_same_identity_writes_nothing(
    staging: Registry,
    target: Registry,
    fresh_registry: Registry,
    containers: ContainersEnv,
    sigstore_stack: SigstoreStack,
) -> None:
    stage = BuildahStager(containers)
    release(staging, target, containers, keyless(sigstore_stack), stage=stage)
    before = snapshot(target)

    again = release(fresh_registry, target, containers, keyless(sigstore_stack), stage=stage)

    assert snapshot(target) == before, "bundles differ run to run: no second one"
    assert again.assembly.written == []
    assert len(again.assembly.signatures) == 5
    assert all("already signed keyless by" in line for line in again.assembly.signatures)


def test_another_identity_adds_its_bundles_beside_the_first(
    staging: Registry,
    target: Registry,
    containers: ContainersEnv,
    sigstore_stack: SigstoreStack,
    tools: dict[str, Cosign],
) -> None:
    stack, stage = sigstore_stack, BuildahStager(containers)
    first = release(staging, target, containers, keyless(stack), stage=stage)
    other = IssuedTokens(stack, repository=FOREIGN)

    second = release(staging, target, containers, keyless(stack, other), stage=stage)

    assert second.assembly.tag_action == "unchanged"
    assert len(second.assembly.written) == 5, "only bundles: no tag moved"
    index = first.assembly.digest
    assert any(
        line.startswith(f"signature of index {index}: signed keyless by")
        and line.endswith("; 1 bundle of another identity kept beside it")
        for line in second.assembly.signatures
    ), second.assembly.signatures
    for identity in (None, stack.issuer.certificate_identity(repository=FOREIGN)):
        verified = cosign_verify(tools["v3"], "v3", stack, pinned(target, index), identity=identity)
        assert verified.returncode == 0, verified.stderr


def test_a_refused_release_reads_no_second_token_and_writes_no_bundle(
    staging: Registry,
    target: Registry,
    containers: ContainersEnv,
    sigstore_stack: SigstoreStack,
) -> None:
    stage = BuildahStager(containers)
    release(staging, target, containers, keyless(sigstore_stack), stage=stage)
    before = snapshot(target)
    rebased = Facts()
    rebased.base = "sha256:" + "3" * 64
    tokens = IssuedTokens(sigstore_stack)

    with pytest.raises(TagConflictError):
        release(staging, target, containers, keyless(sigstore_stack, tokens), facts=rebased)

    assert snapshot(target) == before
    assert tokens.reads == 1, "only the check before the builds: nothing was signed"


def test_a_sigstore_that_fails_while_signing_leaves_no_bundle_and_no_tag(
    staging: Registry,
    target: Registry,
    containers: ContainersEnv,
    sigstore_stack: SigstoreStack,
) -> None:
    config = json.loads(sigstore_stack.trust_config_path.read_text())
    for tlog in config["signingConfig"]["rekorTlogUrls"]:
        tlog["url"] = "http://127.0.0.1:9"  # a Rekor that is not there
    broken = SigstoreTrust(json.dumps(config), "a trust config with a dead Rekor")
    before = snapshot(target)

    with pytest.raises(SigningError, match="expected Sigstore to log and timestamp a signature"):
        release(staging, target, containers, KeylessSigning(broken, keyless(sigstore_stack).tokens))

    after = snapshot(target)
    assert before == {}
    assert not any("/_manifests/tags/" in path for path in after), "no tag, no fallback tag"
    assert BUNDLE not in artifact_types(target, after), "no bundle stored"
    assert "" in artifact_types(target, after), "the index by digest is there, unreferenced"


def artifact_types(target: Registry, stored: dict[str, str]) -> set[str]:
    """The artifact types of every manifest the registry holds (its revisions by digest)."""
    types = set()
    for path in stored:
        if "/_manifests/revisions/sha256/" in path and path.endswith("/link"):
            digest = "sha256:" + path.split("/")[-2]
            manifest = get_manifest(target.host, REPOSITORY, digest).json()
            types.add(manifest.get("artifactType", ""))
    return types


def test_an_expired_or_foreign_audience_token_fails_before_any_build(
    staging: Registry,
    target: Registry,
    containers: ContainersEnv,
    sigstore_stack: SigstoreStack,
) -> None:
    stack = sigstore_stack
    for token, found in [
        (stack.issuer.expired_token(), "found it expired at"),
        (stack.issuer.issue_token(audience="https://github.com/acme"), "audience sigstore"),
    ]:

        async def reader(token: str = token) -> str:
            return token

        stage = BuildahStager(containers)
        with pytest.raises(InvalidInputError, match=found) as raised:
            release(staging, target, containers, keyless(stack, reader), stage=stage)
        assert token not in str(raised.value)
        assert stage.staged == {}, "refused before any build"
    assert snapshot(target) == {}


def test_a_token_read_late_signs_after_the_first_one_would_have_expired(
    staging: Registry,
    target: Registry,
    containers: ContainersEnv,
    sigstore_stack: SigstoreStack,
) -> None:
    """GitHub's tokens live minutes: one asked for before the build may be dead by signing."""
    stack = sigstore_stack
    issuer = stack.issuer
    issuer.endpoint_lifetime = MARGIN_SECONDS + 3
    served_before = issuer.served
    waited: list[float] = []

    class SlowStager(BuildahStager):
        """A build that outlives the token the release was started with."""

        async def __call__(self, plan: VariantPlan, address: str) -> str:
            if not waited:  # 4 s: the first token has less than MARGIN_SECONDS left now
                waited.append(4.0)
                await anyio.sleep(waited[0])
            return await super().__call__(plan, address)

    source = GitHubActionsToken(issuer.request_url, issuer.request_token)
    try:
        report = release(
            staging,
            target,
            containers,
            KeylessSigning(trust_of(stack), source),
            stage=SlowStager(containers),
        )
    finally:
        issuer.endpoint_lifetime = DEFAULT_LIFETIME
    assert report.ok, report.summary()
    assert issuer.served - served_before == 2, "one token to check, a fresh one to sign"


def test_the_dry_run_says_what_would_be_signed_and_writes_nothing(
    staging: Registry,
    target: Registry,
    containers: ContainersEnv,
    sigstore_stack: SigstoreStack,
) -> None:
    tokens = IssuedTokens(sigstore_stack)

    planned = release(staging, target, containers, keyless(sigstore_stack, tokens), dry_run=True)

    assert snapshot(target) == {}
    assert tokens.reads == 1
    summary = planned.summary()
    assert (
        f"2 bundles of linux/amd64 image {planned.variants[0].digest}: would be signed keyless "
        "with the token of the test issuer" in summary
    )


def tamper_bundle(target: Registry, digest: str) -> None:
    """Replace the bundle of ``digest``'s one referrer by one whose signature is another's."""
    listed = get_manifest(target.host, REPOSITORY, f"sha256-{digest.split(':')[1]}").json()
    (entry,) = listed["manifests"]
    manifest = get_manifest(target.host, REPOSITORY, entry["digest"]).json()
    layer = manifest["layers"][0]
    bundle = json.loads(get_blob(target.host, REPOSITORY, layer["digest"]))
    signature = bundle["dsseEnvelope"]["signatures"][0]
    signature["sig"] = signature["sig"][:-8] + (
        "AAAAAAA=" if signature["sig"][-8] != "A" else "BBBBBBB="
    )
    data = json.dumps(bundle).encode()
    layer["digest"], layer["size"] = push_blob(target.host, REPOSITORY, data), len(data)
    raw = json.dumps(manifest).encode()
    new_digest = put_manifest(
        target.host, REPOSITORY, sha256_digest(raw), raw, manifest["mediaType"]
    )
    entry["digest"], entry["size"] = new_digest, len(raw)
    put_manifest(
        target.host,
        REPOSITORY,
        f"sha256-{digest.split(':')[1]}",
        json.dumps(listed).encode(),
        listed["mediaType"],
    )


def test_a_tampered_bundle_fails_naming_the_digest(
    staging: Registry,
    target: Registry,
    containers: ContainersEnv,
    sigstore_stack: SigstoreStack,
) -> None:
    report = release(staging, target, containers, keyless(sigstore_stack))
    index = report.assembly.digest

    tamper_bundle(target, index)

    checked = run_cli("verify", target.ref(REPOSITORY, "v5.0.0"), *identity_args(sigstore_stack))
    assert checked.code == 1
    failed = {c["name"]: c["detail"] for c in checked.report["checks"] if not c["ok"]}
    assert list(failed) == ["keyless signature index"]
    assert failed["keyless signature index"].startswith(
        f"index {index} has no signature bundle by {sigstore_stack.certificate_identity} "
        f"(issuer {sigstore_stack.certificate_oidc_issuer}) that verifies ("
    )


def test_a_key_and_keyless_both_sign_and_each_verifies(
    staging: Registry,
    target: Registry,
    containers: ContainersEnv,
    sigstore_stack: SigstoreStack,
    tmp_path: Path,
) -> None:
    kit: Kit = make_kit(tmp_path, PASSWORD)
    signer = load_signing_key(
        kit.key.private.read_bytes(), PASSWORD, where="test key", given_in="the test"
    )

    report = run_release(
        staging,
        target,
        BuildahStager(containers),
        version="v5.0.0",
        provenance=Facts(),
        signer=signer,
        keyless=keyless(sigstore_stack),
    )

    written = report.assembly.written
    assert sum(line.startswith("bundle ") for line in written) == 5
    assert sum(line.startswith(("signature ", "attestation ")) for line in written) == 5
    both = run_cli(
        "verify",
        target.ref(REPOSITORY, "v5.0.0"),
        "--public-key",
        str(kit.key.public),
        *identity_args(sigstore_stack),
    )
    assert both.code == 0, both.stderr
    assert (
        len(both.report["checks"])
        - len(
            [
                c
                for c in both.report["checks"]
                if "signature" not in c["name"] and "signed" not in c["name"]
            ]
        )
        == 10
    )


def test_the_command_line_signs_an_assembly_keyless_with_the_token_in_the_environment(
    staging: Registry,
    target: Registry,
    containers: ContainersEnv,
    sigstore_stack: SigstoreStack,
) -> None:
    stack = sigstore_stack
    report = release(staging, target, containers, keyless(stack))
    variants = [f"--variant={v.platform}={v.reference}" for v in report.variants]
    env = {"SIGSTORE_ID_TOKEN": stack.issuer.issue_token()}

    assembled = run_cli(
        "assemble",
        target.ref("copy", "v1"),
        *variants,
        "--keyless",
        "--trust-config",
        str(stack.trust_config_path),
        env=env,
    )

    assert assembled.code == 0, assembled.stderr
    assert env["SIGSTORE_ID_TOKEN"] not in json.dumps(assembled.report) + assembled.stderr
    signed = [line for line in assembled.report["signatures"] if "signed keyless by" in line]
    assert len(signed) == 3, assembled.report["signatures"]  # the index and two images
    verified = run_cli("verify", target.ref("copy", "v1"), *identity_args(stack))
    assert verified.code == 0, verified.stderr

    missing = run_cli(
        "assemble",
        target.ref("copy", "v2"),
        *variants,
        "--keyless",
        env={"SIGSTORE_ID_TOKEN": ""},
    )
    assert missing.code == 2
    assert missing.stderr.startswith(
        "error: --keyless was given, so expected an OIDC identity token, found none"
    )


def test_an_unsigned_release_or_another_issuer_fails_naming_each_digest(
    staging: Registry,
    target: Registry,
    containers: ContainersEnv,
    sigstore_stack: SigstoreStack,
) -> None:
    stack = sigstore_stack
    unsigned = run_release(
        staging, target, BuildahStager(containers), version="v5.1.0", provenance=Facts()
    )
    missing = run_cli("verify", target.ref(REPOSITORY, "v5.1.0"), *identity_args(stack))
    assert missing.code == 1
    failed = {c["name"]: c["detail"] for c in missing.report["checks"] if not c["ok"]}
    assert failed["keyless signature index"] == (
        f"index {unsigned.assembly.digest} has no signature bundle by "
        f"{stack.certificate_identity} (issuer {stack.certificate_oidc_issuer}) "
        "(no bundles refer to it)"
    )
    for variant in unsigned.variants:
        assert (
            f"{variant.platform} image {variant.digest} has no"
            in (failed[f"keyless signature {variant.platform} image"])
        )

    signed = release(staging, target, containers, keyless(stack))
    by_root = [*identity_args(stack)[:4], "--trust-config", str(stack.trusted_root_path)]
    verified = run_cli("verify", target.ref(REPOSITORY, "v5.0.0"), *by_root)
    assert verified.code == 0, "a bare trusted root is enough to verify"
    other_issuer = [
        *identity_args(stack)[:3],
        "https://token.actions.githubusercontent.com",
        *identity_args(stack)[4:],
    ]
    refused = run_cli("verify", target.ref(REPOSITORY, "v5.0.0"), *other_issuer)
    assert refused.code == 1
    detail = next(
        c["detail"] for c in refused.report["checks"] if c["name"] == "keyless signature index"
    )
    assert detail.startswith(
        f"index {signed.assembly.digest} has no signature bundle by "
        f"{stack.certificate_identity} (issuer https://token.actions.githubusercontent.com) "
        f"(1 bundle found; signed by {stack.certificate_identity} "
        f"(issuer {stack.certificate_oidc_issuer})"
    )
