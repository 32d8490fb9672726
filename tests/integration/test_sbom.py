"""An SPDX SBOM for every variant a release builds, made by the real syft, read by real tools.

buildah stands in for the engine's builds (images holding Debian packages); the pinned syft
runs from a stand-in of its image with no network, over each staged image's root
filesystem, with the core's own command line (``support.syft``). Real registries
throughout; storage snapshots prove what a refused, failed or repeated release writes.
"""

import base64
import json
import os
from pathlib import Path
from typing import Any

import anyio
import pytest
from support.build_facts import Facts
from support.containers import ContainersEnv
from support.cosign import Kit, make_kit
from support.docker29 import get_blob, get_manifest
from support.go_tools import BUILDX, SYFT, require_go_tool
from support.oci_cli import run_cli
from support.proc import CommandError, run
from support.python_tools import SPDX_TOOLS, require_python_tool
from support.registry import Registry
from support.release_runs import run_release
from support.stager import BuildahStager, BuildFailedError, snapshot
from support.syft import ScannerImage, SyftScanner, push_scanner_image

from metrics_api.oci import Settings
from metrics_api.oci.errors import SbomError
from metrics_api.oci.release import sbom
from metrics_api.oci.release.job import (
    DEFAULT_VARIANTS,
    Attach,
    Staging,
    parse_variant_table,
    publish_variant,
)
from metrics_api.oci.release.provenance import BaseImage
from metrics_api.oci.release.release_reports import ReleaseReport
from metrics_api.oci.release.statements import SLSA_V1, SPDX_DOCUMENT

pytestmark = pytest.mark.integration

REPOSITORY = "metrics-api"
VERSION = "v3.0.0"
PACKAGES = {("base-files", "12.4+deb12u13"), ("netbase", "6.4")}


@pytest.fixture(scope="module")
def scanner(containers: ContainersEnv, registry: Registry) -> ScannerImage:
    return push_scanner_image(containers, registry)


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    return make_kit(tmp_path_factory.mktemp("cosign"), "sbom key password")


def release(  # noqa: PLR0913 - the knobs a test turns
    staging: Registry,
    target: Registry,
    stage: BuildahStager,
    scan: SyftScanner,
    *,
    facts: Facts | None = None,
    kit: Kit | None = None,
) -> ReleaseReport:
    return run_release(
        staging,
        target,
        stage,
        version=VERSION,
        provenance=facts,
        sbom=scan,
        signer=kit.signer() if kit else None,
    )


def attestation_layers(target: Registry, image: str) -> list[tuple[str, dict[str, Any]]]:
    """The statements the release index lists for ``image``: (predicate type, body) each."""
    index = get_manifest(target.host, REPOSITORY, VERSION).json()
    (entry,) = [
        e
        for e in index["manifests"]
        if e.get("annotations", {}).get("vnd.docker.reference.digest") == image
    ]
    manifest = get_manifest(target.host, REPOSITORY, entry["digest"]).json()
    config = json.loads(get_blob(target.host, REPOSITORY, manifest["config"]["digest"]))
    assert config["rootfs"]["diff_ids"] == [layer["digest"] for layer in manifest["layers"]]
    return [
        (
            layer["annotations"]["in-toto.io/predicate-type"],
            json.loads(get_blob(target.host, REPOSITORY, layer["digest"])),
        )
        for layer in manifest["layers"]
    ]


def packages_of(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(p["name"], p.get("versionInfo", "")) for p in document["packages"]}


def test_each_image_carries_its_sbom_before_its_provenance(
    staging: Registry,
    target: Registry,
    containers: ContainersEnv,
    scanner: ScannerImage,
    tmp_path: Path,
) -> None:
    scan = SyftScanner(containers, scanner)
    report = release(staging, target, BuildahStager(containers, packaged=True), scan, facts=Facts())
    assert report.ok, report.summary()
    assert len(scan.scanned) == 2

    shown = buildx(target.ref(REPOSITORY, VERSION), "{{json .SBOM}}", tmp_path)
    for variant in report.variants:
        (spdx, body), (slsa, provenance) = attestation_layers(target, variant.digest)
        assert (spdx, slsa) == (SPDX_DOCUMENT, SLSA_V1)  # BuildKit's order
        assert body["_type"] == "https://in-toto.io/Statement/v1"
        assert body["predicateType"] == SPDX_DOCUMENT
        assert body["subject"] == provenance["subject"]
        assert body["subject"][0]["digest"] == {"sha256": variant.digest.split(":")[1]}
        document = body["predicate"]
        assert packages_of(document) >= PACKAGES
        info = document["creationInfo"]
        assert f"Tool: {scanner.ref}@{scanner.digest}" in info["creators"]
        assert "Tool: syft-1.57.2" in info["creators"]
        dependencies = provenance["predicate"]["buildDefinition"]["resolvedDependencies"]
        assert {
            "name": "sbom scanner",
            "uri": scanner.ref,
            "digest": {"sha256": scanner.digest.split(":")[1]},
        } in dependencies
        # Independent readers: spdx-tools validates it, buildx shows it for the platform.
        spdx_tools_validate(document, tmp_path)
        assert shown[variant.platform]["SPDX"] == document


def test_syft_convert_reads_our_document_and_syft_alone_lists_the_same_packages(
    staging: Registry,
    target: Registry,
    containers: ContainersEnv,
    scanner: ScannerImage,
    tmp_path: Path,
) -> None:
    scan = SyftScanner(containers, scanner)
    report = release(staging, target, BuildahStager(containers, packaged=True), scan)
    assert report.ok, report.summary()
    syft = require_go_tool(SYFT)
    env = {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false", "HOME": str(tmp_path)}
    for variant in report.variants:
        ((_, body),) = attestation_layers(target, variant.digest)  # no provenance asked
        ours = tmp_path / f"{variant.digest[7:19]}.spdx.json"
        ours.write_text(json.dumps(body["predicate"]))
        converted = run([syft, "convert", str(ours), "-o", "syft-json"], env=env)
        read_back = {(a["name"], a["version"]) for a in json.loads(converted.stdout)["artifacts"]}
        # syft itself, outside our code, on the published image
        alone = run(
            [syft, "scan", f"registry:{target.ref(REPOSITORY, variant.digest)}", "-o", "syft-json"],
            env={**env, "SYFT_REGISTRY_INSECURE_USE_HTTP": "true"},
        )
        its_own = {(a["name"], a["version"]) for a in json.loads(alone.stdout)["artifacts"]}
        assert its_own >= PACKAGES
        assert read_back == its_own


def test_the_same_image_gives_the_same_bytes_and_a_rerun_writes_nothing(
    staging: Registry,
    target: Registry,
    containers: ContainersEnv,
    scanner: ScannerImage,
) -> None:
    stage = BuildahStager(containers, packaged=True)
    scan = SyftScanner(containers, scanner)
    first = release(staging, target, stage, scan, facts=Facts())
    assert first.ok, first.summary()
    image = stage.staged["linux/amd64"]
    staged = f"{staging.host}/staging/metrics-api@{image}"
    one, two = scan.scan(staged), scan.scan(staged)
    assert one != two  # syft's own namespace and time differ on every run

    def statement(document: bytes) -> bytes:
        scanned = sbom.Scan(document, BaseImage(uri=scanner.ref, digest=scanner.digest))
        normalised = sbom.normalised_document(scanned, image, None, "linux/amd64")
        return sbom.sbom_statement(image, "pkg:docker/metrics-api@v3.0.0-amd64", normalised)

    assert statement(one) == statement(two)

    before = snapshot(target)
    again = release(staging, target, stage, scan, facts=Facts())
    assert again.ok, again.summary()
    assert again.assembly.digest == first.assembly.digest
    assert snapshot(target) == before


def test_a_fresh_build_of_the_same_inputs_keeps_the_published_sbom(
    staging: Registry,
    target: Registry,
    containers: ContainersEnv,
    scanner: ScannerImage,
) -> None:
    facts = Facts()
    first = release(
        staging,
        target,
        BuildahStager(containers, packaged=True),
        SyftScanner(containers, scanner),
        facts=facts,
    )
    before = snapshot(target)
    fresh = BuildahStager(containers, packaged=True)  # new images, new digests
    again = release(staging, target, fresh, SyftScanner(containers, scanner), facts=facts)
    assert again.ok, again.summary()
    assert [v.tag_action for v in again.variants] == ["unchanged (same inputs)"] * 2
    assert again.assembly.digest == first.assembly.digest
    assert snapshot(target) == before


def test_a_failing_build_or_scan_writes_no_sbom(
    staging: Registry,
    target: Registry,
    containers: ContainersEnv,
    scanner: ScannerImage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = snapshot(target)
    scan = SyftScanner(containers, scanner)
    with pytest.raises(BuildFailedError):
        release(staging, target, BuildahStager(containers, "linux/arm64", packaged=True), scan)
    missing = SyftScanner(containers, ScannerImage(f"{staging.host}/anchore/none:v0", "x"))
    with pytest.raises(Exception, match="anchore/none"):
        release(staging, target, BuildahStager(containers, packaged=True), missing)
    monkeypatch.setattr(sbom, "STATEMENT_SIZE_LIMIT", 1000)
    with pytest.raises(SbomError, match=r"at most 1000 bytes \(BuildKit's limit\), found"):
        release(staging, target, BuildahStager(containers, packaged=True), scan)
    assert snapshot(target) == before


def test_verify_requires_an_sbom_only_when_asked(
    staging: Registry,
    target: Registry,
    containers: ContainersEnv,
    scanner: ScannerImage,
) -> None:
    with_sbom = release(
        staging, target, BuildahStager(containers, packaged=True), SyftScanner(containers, scanner)
    )
    ledger = [f"--expect={v.platform}={v.digest}" for v in with_sbom.variants]
    required = run_cli("verify", target.ref(REPOSITORY, VERSION), *ledger, "--require-sbom")
    assert required.code == 0, required.stderr
    lines = {c["name"]: c for c in required.report["checks"] if c["name"].startswith("sbom ")}
    assert sorted(lines) == ["sbom linux/amd64", "sbom linux/arm64"]
    for check in lines.values():
        assert check["ok"], check
        assert "SPDX-2.3, 2 packages, about sha256:" in check["detail"], check

    bare = run_release(staging, target, BuildahStager(containers), version="v3.0.1")
    ledger = [f"--expect={v.platform}={v.digest}" for v in bare.variants]
    refused = run_cli("verify", target.ref(REPOSITORY, "v3.0.1"), *ledger, "--require-sbom")
    assert refused.code == 1
    assert "error: verification failed: sbom linux/amd64, sbom linux/arm64" in refused.stderr
    failed = [c for c in refused.report["checks"] if not c["ok"]]
    assert [c["name"] for c in failed] == ["sbom linux/amd64", "sbom linux/arm64"]
    assert all("expected an SPDX SBOM attestation about sha256:" in c["detail"] for c in failed)


def test_signed_sboms_pass_cosign_v2_and_v3_and_ours_by_key_only(
    staging: Registry,
    target: Registry,
    containers: ContainersEnv,
    scanner: ScannerImage,
    kit: Kit,
) -> None:
    report = release(
        staging,
        target,
        BuildahStager(containers, packaged=True),
        SyftScanner(containers, scanner),
        facts=Facts(),
        kit=kit,
    )
    assert report.ok, report.summary()
    for generation, tool in kit.tools.items():
        for variant in report.variants:
            ref = target.ref(REPOSITORY, variant.digest)
            attested = tool.verify_attestation(ref, kit.key.public, "spdxjson")
            assert attested.returncode == 0, f"{generation} {variant.digest}: {attested.stderr}"
            statement = json.loads(base64.b64decode(json.loads(attested.stdout)["payload"]))
            assert statement["predicateType"] == SPDX_DOCUMENT
            assert statement["subject"][0]["digest"]["sha256"] == variant.digest.split(":")[1]
            foreign = tool.verify_attestation(ref, kit.other.public, "spdxjson")
            assert foreign.returncode != 0, f"{generation} accepted another key"
    ledger = [f"--expect={v.platform}={v.digest}" for v in report.variants]
    ours = run_cli(
        "verify",
        target.ref(REPOSITORY, VERSION),
        *ledger,
        "--require-sbom",
        "--public-key",
        str(kit.key.public),
    )
    assert ours.code == 0, ours.stderr
    signed = [c["name"] for c in ours.report["checks"] if c["name"].startswith("signed sbom")]
    assert signed == ["signed sbom linux/amd64 image", "signed sbom linux/arm64 image"]
    other = run_cli(
        "verify", target.ref(REPOSITORY, VERSION), *ledger, "--public-key", str(kit.other.public)
    )
    assert other.code == 1
    failed = [c["name"] for c in other.report["checks"] if not c["ok"]]
    assert "signed sbom linux/amd64 image" in failed


def test_publish_variant_carries_its_sbom_and_assemble_keeps_it(
    staging: Registry,
    target: Registry,
    containers: ContainersEnv,
    scanner: ScannerImage,
) -> None:
    stage, scan = BuildahStager(containers, packaged=True), SyftScanner(containers, scanner)
    plans = parse_variant_table(DEFAULT_VARIANTS, "--variants")

    async def publish(index: int) -> str:
        published = await publish_variant(
            plans[index],
            stage,
            staging=Staging(push_host=staging.host, host=staging.host),
            registry=target.host,
            repository=REPOSITORY,
            version="v5.0.0",
            settings=Settings(use_docker_config=False),
            attach=Attach(provenance=Facts(), sbom=scan),
        )
        return published.reference

    references = [anyio.run(publish, index) for index in range(2)]
    variants = [
        f"--variant={p.platform}={r.partition('@')[0]}"
        for p, r in zip(plans, references, strict=True)
    ]
    ledger = [
        f"--expect={p.platform}={r.partition('@')[2]}"
        for p, r in zip(plans, references, strict=True)
    ]
    kept = run_cli(
        "assemble", target.ref(REPOSITORY, "v5.0.0"), *variants, *ledger, "--attestations", "keep"
    )
    assert kept.code == 0, kept.stderr
    verified = run_cli(
        "verify",
        target.ref(REPOSITORY, "v5.0.0"),
        *ledger,
        "--require-sbom",
        "--require-provenance",
    )
    assert verified.code == 0, verified.stderr


def test_spdx_tools_refuses_a_document_that_is_not_valid_spdx_2_3(tmp_path: Path) -> None:
    # It parses, so the validator itself must catch it: a namespace that is no URI.
    invalid = {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": "invalid",
        "documentNamespace": "not a uri",
        "creationInfo": {"created": "2026-01-01T00:00:00Z", "creators": ["Tool: test"]},
    }
    with pytest.raises(CommandError, match="document_namespace must be a valid URI"):
        spdx_tools_validate(invalid, tmp_path)


def spdx_tools_validate(document: dict[str, Any], tmp_path: Path) -> None:
    """spdx-tools' own validator (its command line, in its own environment) accepts it."""
    path = tmp_path / "document.spdx.json"
    path.write_text(json.dumps(document))
    run([require_python_tool(SPDX_TOOLS), "--infile", str(path)])


def buildx(ref: str, template: str, tmp_path: Path) -> dict[str, Any]:
    """What `docker buildx imagetools inspect --format TEMPLATE` shows."""
    binary = require_go_tool(BUILDX)  # missing: fails and says how to install it
    config = tmp_path / "docker-config"
    config.mkdir(exist_ok=True)
    out = run(
        [binary, "imagetools", "inspect", ref, "--format", template],
        env={**os.environ, "DOCKER_CONFIG": str(config)},
    )
    shown: dict[str, Any] = json.loads(out.stdout)
    return shown
