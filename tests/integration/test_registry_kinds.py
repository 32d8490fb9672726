"""How the registry implementations differ (docs/registries.md), each fact checked on each.

Raw HTTP, so the facts are the registries' own; where a lax registry stores something it
should not, the core's checks are shown to catch it.
"""

import json
import uuid
from pathlib import Path

import anyio
import httpx
import pytest
from support import go_tools
from support.docker29 import (
    ACCEPT_ALL,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    RegistryHTTPError,
    descriptor,
    get_manifest,
    json_bytes,
    push_blob,
    put_manifest,
)
from support.go_tools import CRANE, DISTRIBUTION_V3
from support.images import sha256_digest
from support.oci_cli import Variants, run_cli
from support.proc import ToolMissingError
from support.registry import Registry
from support.registry_kinds import DISTRIBUTION_3, GGCR, RegistryKind

from metrics_api.oci import DigestMismatchError, Settings, open_client, parse_reference

pytestmark = pytest.mark.integration

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar"


def fresh_repository() -> str:
    return f"kinds/{uuid.uuid4().hex[:12]}"


def push_image(registry: Registry, repository: str) -> tuple[bytes, str, str]:
    """A minimal image in ``repository``: its manifest bytes, and its layer's digest."""
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
    ).encode()
    layer = f"layer {uuid.uuid4()}".encode()
    push_blob(registry.host, repository, config)
    layer_digest = push_blob(registry.host, repository, layer)
    manifest = json_bytes(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, config),
            "layers": [descriptor(LAYER, layer)],
        }
    )
    digest = put_manifest(
        registry.host, repository, sha256_digest(manifest), manifest, OCI_MANIFEST
    )
    return manifest, digest, layer_digest


def index_of(manifest: bytes) -> bytes:
    entry = descriptor(OCI_MANIFEST, manifest, platform={"architecture": "amd64", "os": "linux"})
    return json_bytes({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]})


def test_an_index_whose_child_is_in_another_repository_is_refused(
    kind_registry: Registry, registry_kind: RegistryKind
) -> None:
    manifest, _, _ = push_image(kind_registry, fresh_repository())
    index = index_of(manifest)
    with pytest.raises(RegistryHTTPError) as refused:
        put_manifest(kind_registry.host, fresh_repository(), "v1", index, OCI_INDEX)
    status, code = registry_kind.foreign_child_refusal
    assert refused.value.status_code == status
    assert json.loads(refused.value.body)["errors"][0]["code"] == code


def test_blobs_and_mounts(kind_registry: Registry, registry_kind: RegistryKind) -> None:
    source, target = fresh_repository(), fresh_repository()
    _, _, layer = push_image(kind_registry, source)
    with httpx.Client(base_url=kind_registry.url, timeout=10) as client:
        elsewhere = client.head(f"/v2/{target}/blobs/{layer}")
        mount = client.post(f"/v2/{target}/blobs/uploads/", params={"mount": layer, "from": source})
    assert elsewhere.status_code == (404 if registry_kind.blobs_per_repository else 200)
    assert mount.status_code == (201 if registry_kind.mounts_blobs else 202)
    if registry_kind.mounts_blobs:
        assert mount.headers["Docker-Content-Digest"] == layer


def test_a_manifest_pushed_under_a_digest_it_does_not_have(
    kind_registry: Registry, registry_kind: RegistryKind
) -> None:
    repository = fresh_repository()
    manifest, _, _ = push_image(kind_registry, repository)
    claimed = "sha256:" + "1" * 64
    with httpx.Client(base_url=kind_registry.url, timeout=10) as client:
        put = client.put(
            f"/v2/{repository}/manifests/{claimed}",
            content=manifest,
            headers={"Content-Type": OCI_MANIFEST},
        )
    if registry_kind.checks_pushed_digest:
        assert put.status_code == 400
        assert put.json()["errors"][0]["code"] == "DIGEST_INVALID"
        return
    assert put.status_code == 201  # stored under a digest its bytes do not have ...
    assert get_manifest(kind_registry.host, repository, sha256_digest(manifest)).body == manifest

    async def fetch() -> None:  # ... which the core's digest check refuses to read
        async with open_client(Settings(use_docker_config=False)) as client:
            await client.get_manifest(
                parse_reference(f"{kind_registry.host}/{repository}@{claimed}")
            )

    with pytest.raises(DigestMismatchError, match=claimed):
        anyio.run(fetch)


def test_an_image_manifest_whose_blobs_are_missing(
    kind_registry: Registry, registry_kind: RegistryKind
) -> None:
    config = b'{"architecture": "amd64", "os": "linux"}'  # never uploaded
    manifest = json_bytes(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, config),
            "layers": [],
        }
    )
    repository = fresh_repository()
    if registry_kind.checks_manifest_blobs:
        with pytest.raises(RegistryHTTPError) as refused:
            put_manifest(kind_registry.host, repository, "v1", manifest, OCI_MANIFEST)
        assert refused.value.status_code == 400
        assert json.loads(refused.value.body)["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN"
        return
    put_manifest(kind_registry.host, repository, "v1", manifest, OCI_MANIFEST)  # stored
    resolved = run_cli(
        "resolve", f"{kind_registry.host}/{repository}:v1", "--platform", "linux/amd64"
    )
    assert resolved.code == 1  # the core reads the configuration, and it is not there
    assert "HTTP 404 (BLOB_UNKNOWN" in resolved.stderr, resolved.stderr


def test_a_manifest_pushed_with_the_wrong_content_type(
    kind_variants: Variants, registry_kind: RegistryKind
) -> None:
    assembled = run_cli(
        "assemble",
        kind_variants.ref("kinds-json"),
        "--variant",
        f"linux/amd64={kind_variants.ref('v2.0.0-amd64')}",
        "--dry-run",
    )
    index = str(assembled.report["index"]).encode()
    registry, repository = kind_variants.registry, kind_variants.repository
    if registry_kind.checks_content_type:
        with pytest.raises(RegistryHTTPError) as refused:
            put_manifest(registry.host, repository, "kinds-json", index, "application/json")
        assert refused.value.status_code == 400
        return
    put_manifest(registry.host, repository, "kinds-json", index, "application/json")
    assert get_manifest(registry.host, repository, "kinds-json").media_type == "application/json"
    verified = run_cli(
        "verify", kind_variants.ref("kinds-json"), "--expect", f"linux/amd64={kind_variants.amd64}"
    )
    assert verified.code == 1
    assert [c["name"] for c in verified.report["checks"] if not c["ok"]] == ["content-type"]


def test_an_index_for_an_accept_header_that_does_not_name_it(
    kind_variants: Variants, registry_kind: RegistryKind
) -> None:
    path = f"{kind_variants.registry.url}/v2/{kind_variants.repository}/manifests/v2.0.0-arm64"
    served = 200 if registry_kind.serves_index_to_any_accept else 404
    with httpx.Client(timeout=10) as client:
        docker_only = client.get(path, headers={"Accept": DOCKER_MANIFEST})
        no_accept = client.head(path)
        named = client.head(path, headers={"Accept": ACCEPT_ALL})
    assert (docker_only.status_code, no_accept.status_code) == (served, served)
    assert named.status_code == 200
    for answer in (named, *([docker_only, no_accept] if served == 200 else [])):
        assert answer.headers["Content-Type"] == OCI_INDEX
        assert answer.headers["Docker-Content-Digest"] == kind_variants.arm64_index


def test_content_after_a_restart(
    fresh_kind_registry: Registry, registry_kind: RegistryKind
) -> None:
    digest = push_blob(fresh_kind_registry.host, "kinds/restart", b"kept, or not")
    fresh_kind_registry.stop()
    fresh_kind_registry.start()
    with httpx.Client(timeout=10) as client:
        found = client.head(f"{fresh_kind_registry.url}/v2/kinds/restart/blobs/{digest}")
    assert found.status_code == (200 if registry_kind.persistent else 404)


@pytest.mark.parametrize("kind", [DISTRIBUTION_3, GGCR], ids=lambda kind: kind.name)
def test_a_missing_implementation_fails_naming_its_install(
    kind: RegistryKind, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(go_tools, "CACHE", tmp_path)
    with pytest.raises(ToolMissingError) as missing:
        kind.start()
    tool = DISTRIBUTION_V3 if kind is DISTRIBUTION_3 else CRANE
    assert f"go install {tool.package}@{tool.version}" in str(missing.value)
    assert "bash scripts/test.sh" in str(missing.value)
