import json

import pytest

from metrics_api.oci.errors import DigestMismatchError, InvalidInputError
from metrics_api.oci.spec import media_types
from metrics_api.oci.spec.digest import check_digest, compute_digest
from metrics_api.oci.spec.models import ImageIndex, ImageManifest, parse_config, parse_manifest

pytestmark = pytest.mark.unit

BLOB = "sha256:" + "b" * 64


def manifest_bytes(media_type: str | None = media_types.OCI_MANIFEST) -> bytes:
    body: dict[str, object] = {
        "schemaVersion": 2,
        "config": {"mediaType": media_types.OCI_CONFIG, "digest": BLOB, "size": 7},
        "layers": [],
        "x-vendor": {"kept": True},
    }
    if media_type:
        body["mediaType"] = media_type
    return json.dumps(body, indent=3).encode()


def test_digest_is_over_the_exact_bytes_not_reserialized_json() -> None:
    raw = manifest_bytes()
    parsed = parse_manifest(raw, None, "test")
    assert parsed.raw == raw
    assert parsed.digest == compute_digest(raw)
    assert parsed.digest != compute_digest(json.dumps(json.loads(raw)).encode())
    assert isinstance(parsed.document, ImageManifest)


def test_media_type_comes_from_the_body_then_the_content_type() -> None:
    raw = manifest_bytes(media_type=None)
    parsed = parse_manifest(raw, f"{media_types.DOCKER_MANIFEST}; charset=utf-8", "test")
    assert parsed.media_type == media_types.DOCKER_MANIFEST
    assert parsed.content_type == media_types.DOCKER_MANIFEST


def test_docker_manifest_list_parses_as_an_index() -> None:
    raw = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": media_types.DOCKER_MANIFEST_LIST,
            "manifests": [
                {
                    "mediaType": media_types.DOCKER_MANIFEST,
                    "digest": BLOB,
                    "size": 1,
                    "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"},
                },
                {"mediaType": "application/vnd.example.unknown+json", "digest": BLOB, "size": 1},
            ],
        }
    ).encode()
    parsed = parse_manifest(raw, None, "test")
    assert isinstance(parsed.document, ImageIndex)
    image, unknown = parsed.document.manifests
    assert image.is_image
    assert not unknown.is_image  # unknown media types are tolerated, not runnable


def test_attestation_entries_are_recognised_by_annotation_or_platform() -> None:
    raw = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": media_types.OCI_INDEX,
            "manifests": [
                {
                    "mediaType": media_types.OCI_MANIFEST,
                    "digest": BLOB,
                    "size": 1,
                    "annotations": {
                        media_types.DOCKER_REFERENCE_TYPE: media_types.ATTESTATION_MANIFEST
                    },
                },
                {
                    "mediaType": media_types.OCI_MANIFEST,
                    "digest": BLOB,
                    "size": 1,
                    "platform": {"architecture": "unknown", "os": "unknown"},
                },
            ],
        }
    ).encode()
    document = parse_manifest(raw, None, "test").document
    assert isinstance(document, ImageIndex)
    assert all(entry.is_attestation and not entry.is_image for entry in document.manifests)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"not json", "not JSON"),
        (b"[1]", "expected a JSON object"),
        (b'{"schemaVersion": 1, "name": "x"}', "expected an image manifest or index"),
        (
            json.dumps(
                {"schemaVersion": 2, "mediaType": media_types.OCI_MANIFEST, "layers": []}
            ).encode(),
            "does not follow the OCI image spec",
        ),
        (
            json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": media_types.OCI_INDEX,
                    "manifests": [{"mediaType": "x", "digest": "sha256:zz", "size": 1}],
                }
            ).encode(),
            "expected a digest like",
        ),
    ],
)
def test_rejects_what_is_not_a_manifest(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse_manifest(raw, None, "test")


def test_config_keeps_platform_details_and_labels() -> None:
    config = parse_config(
        json.dumps(
            {
                "architecture": "arm64",
                "os": "linux",
                "variant": "v8",
                "os.version": "",
                "config": {"Labels": {"org.opencontainers.image.version": "2.0.0"}},
                "rootfs": {"type": "layers", "diff_ids": []},
            }
        ).encode(),
        "test",
    )
    assert str(config.platform) == "linux/arm64/v8"
    assert config.platform.os_version is None
    assert config.labels == {"org.opencontainers.image.version": "2.0.0"}


def test_check_digest_explains_a_mismatch() -> None:
    check_digest(b"abc", compute_digest(b"abc"), "test")
    check_digest(b"abc", compute_digest(b"abc", "sha512"), "test")
    with pytest.raises(DigestMismatchError, match="altered the content"):
        check_digest(b"abd", compute_digest(b"abc"), "test")
