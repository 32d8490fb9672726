"""Assemble, publish and verify against a real registry, cross-checked with skopeo.

Every test here runs once per registry implementation (``support.registry_kinds``):
``variants`` and ``fresh_registry`` are overridden below by those of the kind under test.
"""

import json
from typing import Any

import pytest
from support.docker29 import manifest_digest
from support.faultproxy import start_proxy
from support.images import sha256_digest, skopeo_inspect_platform, skopeo_raw
from support.oci_cli import AuthRegistry, Variants, run_cli, run_cli_text
from support.registry import Registry
from support.registry_kinds import RegistryKind

pytestmark = pytest.mark.integration

OCI_INDEX = "application/vnd.oci.image.index.v1+json"


@pytest.fixture
def variants(kind_variants: Variants) -> Variants:
    """The variants in the registry of the kind under test."""
    return kind_variants


@pytest.fixture
def fresh_registry(fresh_kind_registry: Registry) -> Registry:
    """An empty registry of the kind under test."""
    return fresh_kind_registry


def assemble(
    variants: Variants, target: str, *extra: str, env: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], str]:
    result = run_cli("assemble", target, *variants.variant_flags(), *extra, env=env)
    return result.code, result.report, result.stderr


def check_with_skopeo(target: str, variants: Variants, index_digest: str) -> None:
    raw = skopeo_raw(target)
    assert sha256_digest(raw) == index_digest
    document = json.loads(raw)
    assert document["mediaType"] == OCI_INDEX
    assert [(m["platform"]["architecture"], m["digest"]) for m in document["manifests"]] == [
        ("amd64", variants.amd64),
        ("arm64", variants.arm64),
    ]
    assert skopeo_inspect_platform(target, "linux", "amd64")["ResolvedDigest"] == variants.amd64
    assert skopeo_inspect_platform(target, "linux", "arm64")["ResolvedDigest"] == variants.arm64


def test_assembles_by_digest_unwrapping_the_docker29_index(variants: Variants) -> None:
    target = variants.ref("v2.0.0")
    code, report, stderr = assemble(variants, target)
    assert code == 0, stderr
    assert report["ok"] is True
    assert report["tag_action"] == "created"
    entries = [(e["platform"], e["digest"]) for e in report["entries"]]
    assert entries == [("linux/amd64", variants.amd64), ("linux/arm64/v8", variants.arm64)]
    arm64 = report["variants"][1]
    assert arm64["unwrapped_from"] == variants.arm64_index
    assert arm64["digest"] != variants.arm64_index
    check_with_skopeo(target, variants, str(report["digest"]))
    verification = report["verification"]
    assert verification["ok"] is True
    names = {check["name"] for check in verification["checks"]}
    assert {"fetch", "content-type", "is-index", "ledger linux/amd64", "pull linux/arm64"} <= names
    assert "tag" in names


def test_rerun_with_the_same_result_is_a_noop(variants: Variants) -> None:
    target = variants.ref("v2.0.0-rerun")
    first = assemble(variants, target)
    second = assemble(variants, target)
    assert (first[0], second[0]) == (0, 0), second[2]
    assert first[1]["digest"] == second[1]["digest"]
    assert second[1]["tag_action"] == "unchanged"
    assert second[1]["previous_digest"] == first[1]["digest"]


def test_same_input_gives_the_same_index_in_any_repository(variants: Variants) -> None:
    first = assemble(variants, variants.ref("v2.0.0-same-a"))
    second = assemble(variants, variants.ref("v2.0.0-same-b"))
    assert first[1]["digest"] == second[1]["digest"]


def test_dry_run_pushes_nothing(variants: Variants) -> None:
    target = variants.ref("v2.0.0-dry")
    result = run_cli(
        "assemble",
        target,
        "--variant",
        f"linux/amd64={variants.ref('v2.0.1-amd64')}",  # in no other index of these tests
        "--dry-run",
    )
    assert result.code == 0, result.stderr
    report = result.report
    assert report["tag_action"] == "dry-run"
    assert json.loads(str(report["index"]))["manifests"][0]["digest"] == variants.other_amd64
    assert manifest_digest(variants.registry.host, variants.repository, "v2.0.0-dry") is None
    index_digest = str(report["digest"])
    assert manifest_digest(variants.registry.host, variants.repository, index_digest) is None


def test_annotations_and_created_from_source_date_epoch(variants: Variants) -> None:
    target = variants.ref("v2.0.0-annotated")
    result = run_cli(
        "assemble",
        target,
        "--variant",
        f"linux/amd64={variants.ref('v2.0.0-amd64')}",
        "--annotation",
        "org.opencontainers.image.version=2.0.0",
        env={"SOURCE_DATE_EPOCH": "1767225600"},
    )
    assert result.code == 0, result.stderr
    annotations = json.loads(skopeo_raw(target))["annotations"]
    assert annotations == {
        "org.opencontainers.image.version": "2.0.0",
        "org.opencontainers.image.created": "2026-01-01T00:00:00Z",
    }


def test_children_from_another_repository_are_mounted(
    variants: Variants, registry_kind: RegistryKind
) -> None:
    with start_proxy(variants.registry.host) as proxy:  # to see the mount requests
        result = run_cli(
            "assemble",
            proxy.ref("release/metrics-api", "v2.0.0"),
            "--variant",
            f"linux/amd64={proxy.ref(variants.repository, 'v2.0.0-amd64')}",
            "--variant",
            f"linux/arm64={proxy.ref(variants.repository, 'v2.0.0-arm64')}",
        )
    assert result.code == 0, result.stderr
    # "mounted": no blob had to be copied (the registry linked or already had them all).
    assert [v["child_action"] for v in result.report["variants"]] == ["mounted", "mounted"]
    mounts = [entry.status for entry in proxy.log if "?mount=" in entry.path]
    if registry_kind.blobs_per_repository:
        assert mounts == [201] * 4  # a config and a layer per child, each linked
    else:
        assert mounts == []  # every blob is in every repository: nothing to mount
    target = variants.registry.ref("release/metrics-api", "v2.0.0")
    check_with_skopeo(target, variants, str(result.report["digest"]))


def test_children_from_another_registry_are_copied(
    variants: Variants, fresh_registry: Registry
) -> None:
    target = fresh_registry.ref("metrics-api", "v2.0.0")
    code, report, stderr = assemble(variants, target)
    assert code == 0, stderr
    assert [v["child_action"] for v in report["variants"]] == ["copied", "copied"]
    check_with_skopeo(target, variants, str(report["digest"]))


def test_resolve_unwraps_the_docker29_index(variants: Variants) -> None:
    result = run_cli("resolve", variants.ref("v2.0.0-arm64"), "--platform", "linux/arm64")
    assert result.code == 0, result.stderr
    assert result.report["digest"] == variants.arm64
    assert result.report["unwrapped_from"] == variants.arm64_index
    assert result.report["platform"] == "linux/arm64/v8"
    flat = run_cli("resolve", variants.ref("v2.0.0-amd64"), "--platform", "linux/amd64")
    assert (flat.code, flat.report["digest"]) == (0, variants.amd64), flat.stderr
    assert flat.report["unwrapped_from"] is None


def test_verify_on_its_own(variants: Variants) -> None:
    target = variants.ref("v2.0.0")
    assemble(variants, target)
    good = run_cli(
        "verify",
        target,
        "--expect",
        f"linux/amd64={variants.amd64}",
        "--expect",
        f"linux/arm64={variants.arm64}",
    )
    assert good.code == 0, good.stderr
    assert good.report["ok"] is True
    assert [e["digest"] for e in good.report["entries"]] == [variants.amd64, variants.arm64]


def test_verify_fails_when_an_entry_differs_from_the_ledger(variants: Variants) -> None:
    target = variants.ref("v2.0.0")
    assemble(variants, target)
    bad = run_cli(
        "verify",
        target,
        "--expect",
        f"linux/amd64={variants.other_amd64}",
        "--expect",
        f"linux/arm64={variants.arm64}",
    )
    assert bad.code == 1
    assert bad.report["ok"] is False
    failed = {c["name"] for c in bad.report["checks"] if not c["ok"]}
    assert failed == {"ledger linux/amd64", "pull linux/amd64"}
    assert bad.stderr.strip().splitlines() == [
        "error: verification failed: ledger linux/amd64, pull linux/amd64"
    ]


def test_verify_flags_entries_not_in_the_ledger(variants: Variants) -> None:
    target = variants.ref("v2.0.0")
    assemble(variants, target)
    result = run_cli("verify", target, "--expect", f"linux/amd64={variants.amd64}")
    assert result.code == 1
    failed = [c for c in result.report["checks"] if not c["ok"]]
    assert [c["name"] for c in failed] == ["no unexpected entries"]
    assert variants.arm64 in failed[0]["detail"]


def checks_named(report: dict[str, Any], prefix: str) -> dict[str, dict[str, Any]]:
    return {
        check["name"]: check for check in report["checks"] if str(check["name"]).startswith(prefix)
    }


def test_a_ledger_line_may_name_the_wrapper_docker_push_printed(variants: Variants) -> None:
    code, report, stderr = assemble(
        variants,
        variants.ref("v2.0.0-wrapper-ledger"),
        "--expect",
        f"linux/amd64={variants.amd64}",
        "--expect",
        f"linux/arm64={variants.arm64_index}",  # the digest `docker push` prints
    )
    assert code == 0, stderr
    arm64 = report["variants"][1]
    assert (arm64["digest"], arm64["unwrapped_from"]) == (variants.arm64, variants.arm64_index)
    assert [v["ledger"] for v in report["variants"]] == ["image", "wrapper"]
    assert report["entries"][1]["digest"] == variants.arm64  # the image, never the wrapper
    verification = report["verification"]
    assert verification["ledger"] == "given"
    ledger = checks_named(verification, "ledger ")
    assert ledger["ledger linux/arm64"]["detail"].endswith(
        f"(the image in the wrapper index {variants.arm64_index} the ledger names)"
    )
    assert {check["basis"] for check in ledger.values()} == {"ledger"}


def test_verify_takes_the_wrapper_digest_as_the_ledger_line(variants: Variants) -> None:
    target = variants.ref("v2.0.0")
    assemble(variants, target)
    result = run_cli(
        "verify",
        target,
        "--expect",
        f"linux/amd64={variants.amd64}",
        "--expect",
        f"linux/arm64={variants.arm64_index}",
    )
    assert result.code == 0, result.stderr
    check = checks_named(result.report, "ledger linux/arm64")["ledger linux/arm64"]
    assert check["ok"] is True
    assert check["detail"] == (
        f"expected exactly one entry {variants.arm64}, the image in the wrapper index "
        f"{variants.arm64_index} the ledger names; found {variants.arm64}"
    )


def test_a_ledger_digest_that_matches_neither_says_what_was_found(variants: Variants) -> None:
    code, report, stderr = assemble(
        variants, variants.ref("v2.0.0-neither"), "--expect", f"linux/arm64={variants.other_amd64}"
    )
    assert code == 1
    expected = (
        f"error: variant {variants.ref('v2.0.0-arm64')} for linux/arm64: expected "
        f"{variants.other_amd64}, recorded when it was pushed, found the image manifest "
        f"{variants.arm64} in the wrapper index {variants.arm64_index} (neither is "
        f"{variants.other_amd64}); the tag moved since: assemble from the digest"
    )
    assert stderr.strip().splitlines() == [expected]
    assert report["ok"] is False
    target = variants.ref("v2.0.0")
    assemble(variants, target)
    verified = run_cli(
        "verify",
        target,
        "--expect",
        f"linux/amd64={variants.amd64}",
        "--expect",
        f"linux/arm64={variants.other_amd64}",
    )
    assert verified.code == 1
    check = checks_named(verified.report, "ledger linux/arm64")["ledger linux/arm64"]
    assert check["ok"] is False
    assert check["detail"] == (
        f"expected exactly one entry {variants.other_amd64}, found {variants.arm64} (the image "
        f"manifest for linux/arm64/v8); {variants.other_amd64} is another image manifest "
        "(application/vnd.oci.image.manifest.v1+json)"
    )


def test_without_a_ledger_the_checks_say_they_compare_what_was_resolved(
    variants: Variants,
) -> None:
    target = variants.ref("v2.0.0-no-ledger")
    code, report, stderr = assemble(variants, target)
    assert code == 0, stderr
    verification = report["verification"]
    assert verification["ledger"] == "none"
    ledger = checks_named(verification, "ledger ")
    assert set(ledger) == {"ledger linux/amd64", "ledger linux/arm64"}
    for check in ledger.values():
        assert check["basis"] == "resolution"
        assert check["detail"].startswith(
            "no ledger given, compared with the digest recorded at resolution: "
        )
    assert [v["ledger"] for v in report["variants"]] == ["none", "none"]
    text = run_cli_text("assemble", target, *variants.variant_flags())
    assert text.returncode == 0, text.stderr
    assert (
        f"verification of {target}: ok (no ledger given: entries compared with the digests "
        "recorded at resolution)"
    ) in text.stdout.splitlines()


def test_a_partial_ledger_is_said_to_be_partial(variants: Variants) -> None:
    target = variants.ref("v2.0.0-partial-ledger")
    extra = ("--expect", f"linux/amd64={variants.amd64}")
    code, report, stderr = assemble(variants, target, *extra)
    assert code == 0, stderr
    verification = report["verification"]
    assert verification["ledger"] == "partial"
    ledger = checks_named(verification, "ledger ")
    assert ledger["ledger linux/amd64"]["basis"] == "ledger"
    assert ledger["ledger linux/arm64"]["basis"] == "resolution"
    text = run_cli_text("assemble", target, *variants.variant_flags(), *extra)
    assert text.returncode == 0, text.stderr
    assert (
        f"verification of {target}: ok (ledger given for linux/amd64 only; linux/arm64 "
        "compared with the digest recorded at resolution)"
    ) in text.stdout.splitlines()


def test_publishes_to_a_registry_that_wants_credentials(
    variants: Variants, auth_registry: AuthRegistry, registry_kind: RegistryKind
) -> None:
    code, report, stderr = assemble(
        variants,
        auth_registry.ref(f"{registry_kind.name}/metrics-api", "v2.0.0"),  # empty: all copied
        "--username",
        auth_registry.username,
        env={"REGISTRY_PASSWORD": auth_registry.password, "DOCKER_CONFIG": "/nonexistent"},
    )
    assert code == 0, stderr
    assert report["verification"]["ok"] is True
    assert [v["child_action"] for v in report["variants"]] == ["copied", "copied"]
    assert auth_registry.password not in stderr
    assert auth_registry.password not in json.dumps(report)
