import json

import pytest

from metrics_api.oci.errors import AssemblyError, InvalidInputError
from metrics_api.oci.release.assemble import build_index, created_from_epoch, index_annotations
from metrics_api.oci.release.resolve import ResolvedVariant
from metrics_api.oci.spec import media_types
from metrics_api.oci.spec.models import parse_config, parse_manifest
from metrics_api.oci.spec.platform import parse_platform
from metrics_api.oci.spec.reference import parse_reference

pytestmark = pytest.mark.unit


def variant(platform: str, seed: str, labels: dict[str, str] | None = None) -> ResolvedVariant:
    os_name, architecture, *rest = platform.split("/")
    config = {"architecture": architecture, "os": os_name, "config": {"Labels": labels or {}}}
    if rest:
        config["variant"] = rest[0]
    raw = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": media_types.OCI_MANIFEST,
            "config": {
                "mediaType": media_types.OCI_CONFIG,
                "digest": "sha256:" + seed * 64,
                "size": 2,
            },
            "layers": [],
        }
    ).encode()
    return ResolvedVariant(
        declared=parse_platform(platform),
        source=parse_reference(f"127.0.0.1:5000/metrics-api:{seed}"),
        manifest=parse_manifest(raw, None, "test"),
        config=parse_config(json.dumps(config).encode(), "test"),
        wrapper_digest=None,
    )


def test_entries_follow_the_given_order_with_platform_from_config() -> None:
    amd64, arm64 = variant("linux/amd64", "a"), variant("linux/arm64/v8", "b")
    index = build_index([amd64, arm64])
    document = json.loads(index.raw)
    assert document["mediaType"] == media_types.OCI_INDEX
    assert document["schemaVersion"] == 2
    assert [entry["digest"] for entry in document["manifests"]] == [
        amd64.manifest.digest,
        arm64.manifest.digest,
    ]
    assert document["manifests"][1] == {
        "mediaType": media_types.OCI_MANIFEST,
        "digest": arm64.manifest.digest,
        "size": arm64.manifest.size,
        "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"},
    }
    assert (
        next(entry["digest"] for entry in json.loads(build_index([arm64, amd64]).raw)["manifests"])
        == arm64.manifest.digest
    )


def test_same_input_same_bytes_same_digest() -> None:
    first = build_index([variant("linux/amd64", "a"), variant("linux/arm64", "b")])
    second = build_index([variant("linux/amd64", "a"), variant("linux/arm64", "b")])
    assert first.raw == second.raw
    assert first.digest == second.digest


def test_entries_carry_source_revision_and_version_labels() -> None:
    labels = {
        media_types.OCI_SOURCE: "https://example.com/metrics-api",
        media_types.OCI_REVISION: "abc123",
        media_types.OCI_VERSION: "2.0.0",
        "com.example.unrelated": "dropped",
    }
    index = build_index([variant("linux/amd64", "a", labels)])
    entry = json.loads(index.raw)["manifests"][0]
    assert entry["annotations"] == {
        media_types.OCI_SOURCE: "https://example.com/metrics-api",
        media_types.OCI_REVISION: "abc123",
        media_types.OCI_VERSION: "2.0.0",
    }


def test_rejects_two_variants_for_one_platform() -> None:
    with pytest.raises(AssemblyError, match="found two for linux/arm64"):
        build_index([variant("linux/arm64", "a"), variant("linux/arm64/v8", "b")])


def test_rejects_no_variants() -> None:
    with pytest.raises(AssemblyError, match="at least one variant"):
        build_index([])


def test_created_comes_from_source_date_epoch() -> None:
    assert created_from_epoch("1700000000") == "2023-11-14T22:13:20Z"
    annotations = index_annotations({"com.example.k": "v"}, "0")
    assert annotations == {"com.example.k": "v", media_types.OCI_CREATED: "1970-01-01T00:00:00Z"}
    assert media_types.OCI_CREATED not in index_annotations({}, None)
    explicit = {media_types.OCI_CREATED: "2026-01-31T12:00:00+01:00"}
    assert index_annotations(explicit, "0") == explicit
    with pytest.raises(InvalidInputError, match="whole number of seconds"):
        index_annotations({}, "yesterday")


@pytest.mark.parametrize(
    ("annotations", "message"),
    [
        ({"org.opencontainers.image.colour": "x"}, "reserved org.opencontainers.image namespace"),
        ({media_types.OCI_CREATED: "2026-01-31"}, "RFC 3339"),
        ({media_types.OCI_CREATED: "2026-01-31T12:00:00"}, "RFC 3339"),
        ({"": "x"}, "non-empty annotation key"),
    ],
)
def test_rejects_invalid_annotations(annotations: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        build_index([variant("linux/amd64", "a")], annotations=annotations)
