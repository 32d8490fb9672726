"""Provenance and SBOM attestations carried into the release index (``--attestations keep``).

Variants are pushed as Docker 29 pushes them with each builder option: provenance
mode=min (one in-toto layer), mode=max with SBOMs (several layers), provenance plus an SPDX
SBOM. Kept, each attestation manifest follows its image in the index with its descriptor
exactly as the variant's index had it, lives byte for byte in the target repository, and is
verified; a pulling client's platform choice is unchanged (checked with skopeo). Dropped
(the default), the index holds exactly the platform images.
"""

from dataclasses import dataclass
from typing import Any

import pytest
from support.containers import ContainersEnv
from support.docker29 import (
    MODE_MAX,
    MODE_MIN,
    OCI_INDEX,
    WITH_SBOM,
    Statement,
    get_blob,
    get_manifest,
    json_bytes,
    manifest_digest,
    put_manifest,
    wrap_docker29,
)
from support.images import push, skopeo_inspect_platform
from support.oci_cli import CliResult, run_cli
from support.registry import Registry

pytestmark = pytest.mark.integration

REPOSITORY = "team/attested"
SHAPES: dict[str, tuple[Statement, ...]] = {
    "mode-min": MODE_MIN,
    "mode-max": MODE_MAX,
    "sbom": WITH_SBOM,
}


@dataclass(frozen=True)
class Attested:
    """Variants pushed with attestations: the images, and each wrapping index by tag."""

    registry: Registry
    amd64: str  # image manifest digests
    arm64: str
    other_amd64: str

    def ref(self, tag_or_digest: str) -> str:
        return self.registry.ref(REPOSITORY, tag_or_digest)

    def source_index(self, tag: str) -> list[dict[str, Any]]:
        """The entries of a variant's Docker-29 index, as served (key order kept)."""
        entries: list[dict[str, Any]] = get_manifest(self.registry.host, REPOSITORY, tag).json()[
            "manifests"
        ]
        return entries


@pytest.fixture(scope="module")
def attested(
    registry: Registry, containers: ContainersEnv, variant_images: tuple[str, str, str]
) -> Attested:
    """amd64 under ``amd64-<shape>`` for each shape, arm64/v8 under ``arm64`` (mode=min)."""
    amd64_image, arm64_image, other_image = variant_images
    amd64 = push(containers, amd64_image, registry.ref(REPOSITORY, "amd64-image"))
    arm64 = push(containers, arm64_image, registry.ref(REPOSITORY, "arm64-image"), format="docker")
    other = push(containers, other_image, registry.ref(REPOSITORY, "other-image"))
    for shape, statements in SHAPES.items():
        wrap_docker29(registry.host, REPOSITORY, amd64, f"amd64-{shape}", statements=statements)
    wrap_docker29(registry.host, REPOSITORY, arm64, "arm64", statements=MODE_MIN)
    # An attestation whose statements are about another image than the one it is listed for.
    wrap_docker29(registry.host, REPOSITORY, amd64, "amd64-lying", about=other)
    return Attested(registry, amd64, arm64, other)


def assemble(attested: Attested, target: str, amd64_tag: str, *extra: str) -> CliResult:
    return run_cli(
        "assemble",
        target,
        "--variant",
        f"linux/amd64={attested.ref(amd64_tag)}",
        "--variant",
        f"linux/arm64={attested.ref('arm64')}",
        *extra,
    )


def checks(result: CliResult) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in result.report["verification"]["checks"]}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_kept_attestations_follow_their_image_exactly_as_the_variant_had_them(
    attested: Attested, shape: str
) -> None:
    target = attested.registry.ref("release/attested", shape)  # another repository
    result = assemble(attested, target, f"amd64-{shape}", "--attestations", "keep")
    assert result.code == 0, result.stderr
    amd64_source, arm64_source = (
        attested.source_index(f"amd64-{shape}"),
        attested.source_index("arm64"),
    )
    served = get_manifest(attested.registry.host, "release/attested", shape)
    assert served.digest == result.report["digest"]
    entries = served.json()["manifests"]
    assert [entry["digest"] for entry in entries] == [
        attested.amd64,
        amd64_source[1]["digest"],
        attested.arm64,
        arm64_source[1]["digest"],
    ]
    # Docker's descriptor form, byte for byte as the variant's index had it.
    assert json_bytes(entries[1]) == json_bytes(amd64_source[1])
    assert json_bytes(entries[3]) == json_bytes(arm64_source[1])
    assert entries[1]["platform"] == {"architecture": "unknown", "os": "unknown"}
    assert entries[1]["annotations"] == {
        "vnd.docker.reference.digest": attested.amd64,
        "vnd.docker.reference.type": "attestation-manifest",
    }
    # Each attestation manifest and its statements are in the target repository, unchanged.
    for attestation in (amd64_source[1]["digest"], arm64_source[1]["digest"]):
        source = get_manifest(attested.registry.host, REPOSITORY, attestation)
        copy = get_manifest(attested.registry.host, "release/attested", attestation)
        assert copy.body == source.body
        for layer in copy.json()["layers"]:
            get_blob(attested.registry.host, "release/attested", layer["digest"])
    found = checks(result)
    predicates = ", ".join(statement.predicate_type for statement in SHAPES[shape])
    assert found["attestation linux/amd64"]["ok"] is True
    assert found["attestation linux/amd64"]["detail"].endswith(
        f"about {attested.amd64}: {predicates}"
    )
    assert found["attestation linux/arm64/v8"]["ok"] is True
    assert found["attestations name images"]["ok"] is True
    assert found["attestations match no platform"]["ok"] is True
    # BuildKit's SLSA v0.2 provenance counts as each platform's provenance.
    assert found["provenance linux/amd64"]["ok"] is True
    assert found["provenance linux/amd64"]["detail"].endswith(
        f"https://slsa.dev/provenance/v0.2 about {attested.amd64}"
    )
    assert found["provenance linux/arm64/v8"]["ok"] is True
    assert result.report["verification"]["ok"] is True
    assert (
        f"linux/amd64 attestation {amd64_source[1]['digest']} (mounted)" in result.report["written"]
    )
    # A pulling client still gets the images: the attestations match no platform.
    assert skopeo_inspect_platform(target, "linux", "amd64")["ResolvedDigest"] == attested.amd64
    assert skopeo_inspect_platform(target, "linux", "arm64")["ResolvedDigest"] == attested.arm64


def test_kept_attestations_are_copied_to_another_registry(
    attested: Attested, fresh_registry: Registry
) -> None:
    target = fresh_registry.ref("metrics-api", "v2.0.0")
    result = assemble(attested, target, "amd64-mode-max", "--attestations", "keep")
    assert result.code == 0, result.stderr
    attestation = attested.source_index("amd64-mode-max")[1]["digest"]
    assert f"linux/amd64 attestation {attestation} (copied)" in result.report["written"]
    copy = get_manifest(fresh_registry.host, "metrics-api", attestation)
    assert copy.body == get_manifest(attested.registry.host, REPOSITORY, attestation).body
    for layer in copy.json()["layers"]:
        assert get_blob(fresh_registry.host, "metrics-api", layer["digest"]) == get_blob(
            attested.registry.host, REPOSITORY, layer["digest"]
        )
    assert result.report["verification"]["ok"] is True


def test_attestations_are_dropped_by_default(attested: Attested, fresh_registry: Registry) -> None:
    target = fresh_registry.ref("metrics-api", "v2.0.0")
    result = assemble(attested, target, "amd64-mode-max")
    assert result.code == 0, result.stderr
    entries = get_manifest(fresh_registry.host, "metrics-api", "v2.0.0").json()["manifests"]
    assert [entry["digest"] for entry in entries] == [attested.amd64, attested.arm64]
    attestation = attested.source_index("amd64-mode-max")[1]["digest"]
    assert manifest_digest(fresh_registry.host, "metrics-api", attestation) is None
    assert not [name for name in checks(result) if name.startswith("attestation")]


def test_a_kept_attestation_about_another_image_fails_verification_and_tags_nothing(
    attested: Attested,
) -> None:
    target = attested.ref("lying")
    result = assemble(attested, target, "amd64-lying", "--attestations", "keep")
    assert result.code == 1
    assert "did not verify, so no tag was written" in result.stderr
    assert f"subjects do not name {attested.amd64}" in result.stderr
    assert "provenance linux/amd64: " in result.stderr
    assert manifest_digest(attested.registry.host, REPOSITORY, "lying") is None


def put_index(attested: Attested, tag: str, entries: list[dict[str, Any]]) -> None:
    body = json_bytes({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
    put_manifest(attested.registry.host, REPOSITORY, tag, body, OCI_INDEX)


def test_verify_flags_an_attestation_about_an_image_not_in_the_index(attested: Attested) -> None:
    amd64_image = attested.source_index("amd64-mode-min")[0]
    arm64_attestation = attested.source_index("arm64")[1]
    put_index(attested, "orphan", [amd64_image, arm64_attestation])
    result = run_cli("verify", attested.ref("orphan"), "--expect", f"linux/amd64={attested.amd64}")
    assert result.code == 1
    failed = {check["name"] for check in result.report["checks"] if not check["ok"]}
    assert failed == {f"attestation {arm64_attestation['digest']}", "attestations name images"}


def test_verify_flags_an_attestation_entry_a_client_would_pull(attested: Attested) -> None:
    image, attestation = attested.source_index("amd64-mode-min")
    posing = {**attestation, "platform": {"architecture": "amd64", "os": "linux"}}
    put_index(attested, "posing", [posing, image])
    result = run_cli("verify", attested.ref("posing"), "--expect", f"linux/amd64={attested.amd64}")
    assert result.code == 1
    failed = [check for check in result.report["checks"] if not check["ok"]]
    assert [check["name"] for check in failed] == ["attestations match no platform"]
    assert "has platform linux/amd64" in failed[0]["detail"]
