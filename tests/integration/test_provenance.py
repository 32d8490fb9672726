"""SLSA provenance for every variant a release builds, as Docker's tools read it.

buildah stands in for the engine's build (``support.stager``) and the build facts are
filled by hand, as the Dagger layer fills them. Real registries throughout; storage
snapshots prove that a refused release and an identical re-run write nothing.
"""

import json
import os
from pathlib import Path
from typing import Any

import anyio
import pytest
from support.build_facts import Facts
from support.containers import ContainersEnv
from support.docker29 import get_blob, get_manifest, manifest_digest
from support.go_tools import BUILDX, require_go_tool
from support.images import skopeo_inspect_platform
from support.oci_cli import run_cli
from support.proc import run
from support.registry import Registry
from support.release_runs import run_release as release_run
from support.stager import BuildahStager, BuildFailedError, snapshot

from metrics_api.oci import Settings, TagConflictError, open_client, parse_reference
from metrics_api.oci.release.job import (
    DEFAULT_VARIANTS,
    Attach,
    Staging,
    parse_variant_table,
    publish_variant,
)
from metrics_api.oci.release.layout import write_layout
from metrics_api.oci.release.provenance import (
    BUILD_TYPE,
    BUILDER_ID,
)
from metrics_api.oci.release.release_reports import SAME_INPUTS, ReleasedVariant, ReleaseReport
from metrics_api.oci.release.statements import SLSA_V1

pytestmark = pytest.mark.integration

REPOSITORY = "metrics-api"
ATTESTATION = {"vnd.docker.reference.type": "attestation-manifest"}


def run_release(  # noqa: PLR0913 - the knobs a test turns
    staging: Registry,
    target: Registry,
    stage: BuildahStager,
    facts: Facts | None,
    *,
    force: bool = False,
    dry_run: bool = False,
) -> ReleaseReport:
    return release_run(
        staging, target, stage, version="v3.0.0", force=force, dry_run=dry_run, provenance=facts
    )


def run_publish_variant(
    staging: Registry, target: Registry, stage: BuildahStager, facts: Facts, platform: int = 0
) -> ReleasedVariant:
    async def job() -> ReleasedVariant:
        return await publish_variant(
            parse_variant_table(DEFAULT_VARIANTS, "--variants")[platform],
            stage,
            staging=Staging(push_host=staging.host, host=staging.host),
            registry=target.host,
            repository=REPOSITORY,
            version="v3.0.0",
            settings=Settings(use_docker_config=False),
            attach=Attach(provenance=facts),
        )

    return anyio.run(job)


def entries(target: Registry, tag: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = get_manifest(target.host, REPOSITORY, tag).json()["manifests"]
    return found


def statement_of(target: Registry, attestation: str) -> dict[str, Any]:
    (layer,) = get_manifest(target.host, REPOSITORY, attestation).json()["layers"]
    assert layer["mediaType"] == "application/vnd.in-toto+json"
    assert layer["annotations"] == {"in-toto.io/predicate-type": SLSA_V1}
    document: dict[str, Any] = json.loads(get_blob(target.host, REPOSITORY, layer["digest"]))
    return document


def buildx_provenance(ref: str, tmp_path: Path) -> dict[str, Any]:
    """What `docker buildx imagetools inspect --format '{{json .Provenance}}'` shows."""
    buildx = require_go_tool(BUILDX)  # missing: fails and says how to install it
    config = tmp_path / "docker-config"
    config.mkdir(exist_ok=True)
    out = run(
        [buildx, "imagetools", "inspect", ref, "--format", "{{json .Provenance}}"],
        env={**os.environ, "DOCKER_CONFIG": str(config)},
    )
    shown: dict[str, Any] = json.loads(out.stdout)
    return shown


def test_a_release_carries_slsa_provenance_after_each_image(
    staging: Registry, target: Registry, containers: ContainersEnv, tmp_path: Path
) -> None:
    stage, facts = BuildahStager(containers), Facts()
    report = run_release(staging, target, stage, facts)

    assert report.ok, report.summary()
    amd64, arm64 = stage.staged["linux/amd64"], stage.staged["linux/arm64"]
    assert sorted(facts.calls) == [("linux/amd64", amd64), ("linux/arm64", arm64)]
    index = entries(target, "v3.0.0")
    assert [e["digest"] for e in index[0::2]] == [amd64, arm64]
    for image, attestation in (index[0:2], index[2:4]):
        assert attestation["platform"] == {"architecture": "unknown", "os": "unknown"}
        assert attestation["annotations"] == {
            "vnd.docker.reference.digest": image["digest"],
            **ATTESTATION,
        }
        document = statement_of(target, attestation["digest"])
        assert document["subject"][0]["digest"] == {"sha256": image["digest"].split(":")[1]}
        assert document["predicate"]["buildDefinition"]["buildType"] == BUILD_TYPE
    # The ledger and the variant tags are the images recorded at push time.
    assert [v.digest for v in report.variants] == [amd64, arm64]
    assert [v.ledger for v in report.assembly.variants] == ["image", "image"]
    assert (manifest_digest(target.host, REPOSITORY, "v3.0.0-amd64")) == amd64
    assert report.assembly.verification is not None
    checks = {c.name: c for c in report.assembly.verification.checks}
    assert checks["ledger linux/amd64"].ok
    assert checks["provenance linux/amd64"].ok
    assert checks["provenance linux/arm64"].ok

    ref = target.ref(REPOSITORY, "v3.0.0")
    shown = buildx_provenance(ref, tmp_path)
    for platform in ("linux/amd64", "linux/arm64"):
        slsa = shown[platform]["SLSA"]
        assert slsa["buildDefinition"]["buildType"] == BUILD_TYPE
        assert slsa["runDetails"]["builder"]["id"] == BUILDER_ID
        assert slsa["buildDefinition"]["externalParameters"]["platform"] == platform
    assert skopeo_inspect_platform(ref, "linux", "amd64")["ResolvedDigest"] == amd64
    assert skopeo_inspect_platform(ref, "linux", "arm64")["ResolvedDigest"] == arm64

    required = run_cli(
        "verify",
        ref,
        "--expect",
        f"linux/amd64={amd64}",
        "--expect",
        f"linux/arm64={arm64}",
        "--require-provenance",
    )
    assert required.code == 0, required.stderr
    verified = {c["name"]: c for c in required.report["checks"]}
    assert verified["provenance linux/arm64"]["ok"] is True


def test_an_identical_rerun_writes_nothing_though_its_statements_differ(
    staging: Registry, target: Registry, containers: ContainersEnv
) -> None:
    stage = BuildahStager(containers)
    first = run_release(staging, target, stage, Facts())
    before = snapshot(target)

    again = run_release(staging, target, stage, Facts())  # new times, new invocation ids

    assert snapshot(target) == before
    assert again.assembly.digest == first.assembly.digest
    assert again.assembly.tag_action == "unchanged"
    assert again.assembly.written == []


def test_a_changed_base_image_is_a_new_statement_refused_without_force(
    staging: Registry, target: Registry, containers: ContainersEnv
) -> None:
    stage = BuildahStager(containers)
    first = run_release(staging, target, stage, Facts())
    before = snapshot(target)
    rebased = Facts()
    rebased.base = "sha256:" + "3" * 64

    with pytest.raises(TagConflictError) as refused:
        run_release(staging, target, stage, rebased)

    assert snapshot(target) == before, "a refused release writes no attestation"
    message = str(refused.value)
    assert f"{target.host}/{REPOSITORY}:v3.0.0 already points at {first.assembly.digest}" in message
    assert "v3.0.0-amd64" not in message, "the images did not change"


def test_a_fresh_build_of_the_same_inputs_keeps_the_published_release(
    staging: Registry, target: Registry, containers: ContainersEnv
) -> None:
    stage = BuildahStager(containers)
    first = run_release(staging, target, stage, Facts())
    published = [stage.staged["linux/amd64"], stage.staged["linux/arm64"]]
    before = snapshot(target)
    for plan in parse_variant_table(DEFAULT_VARIANTS, "--variants"):
        stage.rebuild(plan)  # a fresh runner: no cache, new timestamps, new digests

    planned = run_release(staging, target, stage, Facts(), dry_run=True)
    again = run_release(staging, target, stage, Facts())  # new times, new invocation ids

    rebuilt = [stage.staged["linux/amd64"], stage.staged["linux/arm64"]]
    assert not set(rebuilt) & set(published)
    assert snapshot(target) == before, "the published images and attestations are kept"
    for report in (planned, again):
        assert report.assembly.digest == first.assembly.digest
        assert [v.digest for v in report.variants] == published
        assert [v.tag_action for v in report.variants] == [SAME_INPUTS, SAME_INPUTS]
    assert again.assembly.tag_action == "unchanged"
    assert again.assembly.written == []
    amd64 = again.variants[0]
    assert (
        f"  linux/amd64: {amd64.reference} (unchanged: same inputs as the published build)"
        in again.summary()
    )
    assert amd64.reference.endswith(f"v3.0.0-amd64@{published[0]}")
    assert "would be unchanged: same inputs as the published build" in planned.summary()
    # The ledger is the images kept, and the release verifies against it.
    assert again.ok, again.summary()
    assert [v.digest for v in again.assembly.variants] == published
    assert [v.ledger for v in again.assembly.variants] == ["image", "image"]
    assert again.assembly.verification is not None
    checks = {c.name: c for c in again.assembly.verification.checks}
    assert checks["ledger linux/amd64"].ok
    assert checks["ledger linux/arm64"].ok
    assert published[0] in checks["ledger linux/amd64"].detail

    rebased = Facts()
    rebased.base = "sha256:" + "3" * 64
    with pytest.raises(TagConflictError) as refused:
        run_release(staging, target, stage, rebased)
    assert snapshot(target) == before
    message = str(refused.value)
    for platform in ("linux/amd64", "linux/arm64"):
        assert (
            f"{platform}: the base image golang:1.26-bookworm moved from sha256:{'1' * 64} "
            f"to sha256:{'3' * 64}"
        ) in message
    assert "source folder" not in message, "only what changed is named"

    moved = run_release(staging, target, stage, rebased, force=True)
    assert moved.ok, moved.summary()
    assert moved.assembly.tag_action == "moved"
    assert [v.digest for v in moved.variants] == rebuilt
    assert [v.tag_action for v in moved.variants] == ["moved", "moved"]
    assert manifest_digest(target.host, REPOSITORY, "v3.0.0-amd64") == rebuilt[0]


def test_publish_variant_keeps_a_published_build_of_the_same_inputs(
    staging: Registry, target: Registry, containers: ContainersEnv
) -> None:
    stage = BuildahStager(containers)
    first = run_publish_variant(staging, target, stage, Facts(), 0)
    before = snapshot(target)
    stage.rebuild(parse_variant_table(DEFAULT_VARIANTS, "--variants")[0])

    again = run_publish_variant(staging, target, stage, Facts(), 0)

    assert stage.staged["linux/amd64"] != first.digest
    assert snapshot(target) == before
    assert (again.tag_action, again.digest) == (SAME_INPUTS, first.digest)
    assert again.index_digest == first.index_digest
    assert "built from the same inputs as this build: kept, nothing written" in again.outcome()

    changed = Facts()
    changed.base = "sha256:" + "4" * 64
    with pytest.raises(TagConflictError) as refused:
        run_publish_variant(staging, target, stage, changed, 0)
    assert snapshot(target) == before
    assert (
        f"linux/amd64: the base image golang:1.26-bookworm moved from sha256:{'1' * 64} "
        f"to sha256:{'4' * 64}"
    ) in str(refused.value)


def test_a_failing_build_writes_no_attestation(
    staging: Registry, target: Registry, containers: ContainersEnv
) -> None:
    facts = Facts()
    with pytest.raises(BuildFailedError):
        run_release(staging, target, BuildahStager(containers, failing="linux/arm64"), facts)
    assert snapshot(target) == {}
    assert facts.calls == [], "facts are asked for once every variant is staged"


def test_verify_requires_provenance_only_when_asked(
    staging: Registry, target: Registry, containers: ContainersEnv
) -> None:
    stage = BuildahStager(containers)
    run_release(staging, target, stage, None)  # provenance off
    ref = target.ref(REPOSITORY, "v3.0.0")
    ledger = [f"--expect=linux/amd64={stage.staged['linux/amd64']}"]
    ledger.append(f"--expect=linux/arm64={stage.staged['linux/arm64']}")
    images = [stage.staged["linux/amd64"], stage.staged["linux/arm64"]]
    assert [e["digest"] for e in entries(target, "v3.0.0")] == images

    plain = run_cli("verify", ref, *ledger)
    assert plain.code == 0, plain.stderr
    assert not [c for c in plain.report["checks"] if c["name"].startswith("provenance")]

    required = run_cli("verify", ref, *ledger, "--require-provenance")
    assert required.code == 1
    failed = {c["name"] for c in required.report["checks"] if not c["ok"]}
    assert failed == {"provenance linux/amd64", "provenance linux/arm64"}


def test_publish_variant_pushes_a_docker29_index_and_the_split_flow_keeps_it(
    staging: Registry, target: Registry, containers: ContainersEnv
) -> None:
    stage = BuildahStager(containers)
    amd64 = run_publish_variant(staging, target, stage, Facts(), 0)
    arm64 = run_publish_variant(staging, target, stage, Facts(), 1)
    image = stage.staged["linux/amd64"]
    assert (amd64.digest, amd64.tag_action) == (image, "created")
    assert amd64.reference == f"{target.host}/{REPOSITORY}:v3.0.0-amd64@{image}"
    wrapper = entries(target, "v3.0.0-amd64")
    assert [e["digest"] for e in wrapper][:1] == [image]
    assert wrapper[1]["annotations"] == {"vnd.docker.reference.digest": image, **ATTESTATION}
    assert statement_of(target, wrapper[1]["digest"])["subject"][0]["digest"] == {
        "sha256": image.split(":")[1]
    }

    held = manifest_digest(target.host, REPOSITORY, "v3.0.0-amd64")
    assert amd64.outcome() == (
        f"{target.host}/{REPOSITORY}:v3.0.0-amd64 created: {held} (the image {image} and its "
        "attestation)"
    )

    before = snapshot(target)
    again = run_publish_variant(staging, target, stage, Facts(), 0)
    assert snapshot(target) == before
    assert again.tag_action == "unchanged"
    assert again.outcome().endswith(
        f"already held {held} (the image {image} and its attestation): nothing written"
    )

    assembled = run_cli(
        "assemble",
        target.ref(REPOSITORY, "v3.0.0"),
        "--variant",
        f"linux/amd64={target.ref(REPOSITORY, 'v3.0.0-amd64')}",
        "--variant",
        f"linux/arm64={target.ref(REPOSITORY, 'v3.0.0-arm64')}",
        "--attestations",
        "keep",
    )
    assert assembled.code == 0, assembled.stderr
    index = entries(target, "v3.0.0")
    assert [e["digest"] for e in index[0::2]] == [image, arm64.digest]
    assert index[1] == wrapper[1]
    verified = run_cli(
        "verify",
        target.ref(REPOSITORY, "v3.0.0"),
        f"--expect=linux/amd64={image}",
        f"--expect=linux/arm64={arm64.digest}",
        "--require-provenance",
    )
    assert verified.code == 0, verified.stderr


def test_a_layout_of_a_release_keeps_its_provenance(
    staging: Registry, target: Registry, containers: ContainersEnv, tmp_path: Path
) -> None:
    run_release(staging, target, BuildahStager(containers), Facts())
    layout = tmp_path / "layout"
    layout.mkdir()

    async def job() -> None:
        async with open_client(Settings(use_docker_config=False)) as client:
            ref = parse_reference(target.ref(REPOSITORY, "v3.0.0"))
            await write_layout(client, ref, layout, "v3.0.0")

    anyio.run(job)
    blobs = layout / "blobs" / "sha256"
    for attestation in entries(target, "v3.0.0")[1::2]:
        manifest = blobs / attestation["digest"].split(":")[1]
        (layer,) = json.loads(manifest.read_bytes())["layers"]
        statement = json.loads((blobs / layer["digest"].split(":")[1]).read_bytes())
        assert statement["predicateType"] == SLSA_V1
