"""The layout export streams layers to disk: bounded memory, no wrong blob kept, restarts.

A layer gets its name in ``blobs/sha256/`` only once its bytes proved right; a dropped
connection restarts it from its first byte. Every image is pushed to the real registry
and read back through a proxy that counts and faults the requests.
"""

import json
import os
from pathlib import Path

import anyio
import pytest
from support.copy_driver import peak_growth
from support.docker29 import descriptor, json_bytes, push_blob, put_manifest
from support.faultproxy import Drop, Hang, Match, Scenario, Status, Tamper, start_proxy
from support.images import sha256_digest
from support.registry import Registry

from metrics_api.oci import (
    DigestMismatchError,
    RegistryError,
    Settings,
    open_client,
    parse_reference,
)
from metrics_api.oci.registry.transport import RetryPolicy
from metrics_api.oci.release.layout import write_layout
from metrics_api.oci.spec import media_types

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
GET = frozenset({"GET"})


def push_index(registry: Registry, repository: str, layer: bytes) -> tuple[str, str]:
    """An index of one linux/amd64 image with ``layer``; its digest and the layer's."""
    config = json_bytes({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}})
    push_blob(registry.host, repository, config)
    layer_digest = push_blob(registry.host, repository, layer)
    image = json_bytes(
        {
            "schemaVersion": 2,
            "mediaType": media_types.OCI_MANIFEST,
            "config": descriptor(media_types.OCI_CONFIG, config),
            "layers": [descriptor("application/vnd.oci.image.layer.v1.tar+gzip", layer)],
        }
    )
    put_manifest(registry.host, repository, sha256_digest(image), image, media_types.OCI_MANIFEST)
    platform = {"architecture": "amd64", "os": "linux"}
    index = json_bytes(
        {
            "schemaVersion": 2,
            "mediaType": media_types.OCI_INDEX,
            "manifests": [descriptor(media_types.OCI_MANIFEST, image, platform=platform)],
        }
    )
    return put_manifest(registry.host, repository, "v1", index, media_types.OCI_INDEX), layer_digest


def export(index_ref: str, directory: Path, request_timeout: float = 30.0) -> int:
    """Write the layout with the core; the client's retry count."""

    async def run() -> int:
        settings = Settings(
            use_docker_config=False,
            retry=RetryPolicy(base_delay=0.01),
            request_timeout=request_timeout,
        )
        async with open_client(settings) as client:
            await write_layout(client, parse_reference(index_ref), directory, "v1")
            return client.stats.retries

    return anyio.run(run)


def blob_file(directory: Path, digest: str) -> Path:
    return directory / "blobs" / "sha256" / digest.removeprefix("sha256:")


def test_a_dropped_layer_download_restarts_from_its_first_byte(
    registry: Registry, tmp_path: Path
) -> None:
    layer = os.urandom(8 * MIB)
    _, layer_digest = push_index(registry, "layout/dropped", layer)
    drop = Drop(match=Match(methods=GET, path=f"/blobs/{layer_digest}", first=1))
    with start_proxy(registry.host, Scenario(faults=(drop,))) as proxy:
        retries = export(proxy.ref("layout/dropped", "v1"), tmp_path)
        layer_gets = [e.fault for e in proxy.log if e.path.endswith(f"/blobs/{layer_digest}")]
    assert layer_gets == ["drop", ""]
    assert retries == 1
    assert blob_file(tmp_path, layer_digest).read_bytes() == layer
    assert not list(tmp_path.rglob("*.partial"))


def test_an_altered_layer_is_refused_and_not_kept(registry: Registry, tmp_path: Path) -> None:
    _, layer_digest = push_index(registry, "layout/tampered", os.urandom(2 * MIB))
    flip = Tamper(how="flip", match=Match(methods=GET, path=f"/blobs/{layer_digest}"))
    with (
        start_proxy(registry.host, Scenario(faults=(flip,))) as proxy,
        pytest.raises(DigestMismatchError, match=f"received {2 * MIB} bytes that hash to"),
    ):
        export(proxy.ref("layout/tampered", "v1"), tmp_path)
    kept = [path.name for path in (tmp_path / "blobs" / "sha256").iterdir()]
    assert layer_digest.removeprefix("sha256:") not in kept
    assert not [name for name in kept if name.endswith(".partial")]
    assert not (tmp_path / "index.json").exists()


def test_a_layer_download_that_gets_no_answer_is_tried_twice(
    registry: Registry, tmp_path: Path
) -> None:
    _, layer_digest = push_index(registry, "layout/hung", os.urandom(MIB))
    hang = Hang(match=Match(methods=GET, path=f"/blobs/{layer_digest}"))
    with (
        start_proxy(registry.host, Scenario(faults=(hang,))) as proxy,
        pytest.raises(RegistryError) as refused,
    ):
        export(proxy.ref("layout/hung", "v1"), tmp_path, request_timeout=1)
    assert "still failing after 2 attempts, each from the first byte, last cause: " in str(
        refused.value
    )
    assert "no answer within 1 s" in str(refused.value)
    assert proxy.count("GET", f"/blobs/{layer_digest}", fault="hang") == 2


def test_a_forbidden_layer_names_the_permission_not_a_missing_blob(
    registry: Registry, tmp_path: Path
) -> None:
    _, layer_digest = push_index(registry, "layout/forbidden", os.urandom(MIB))
    forbid = Status(403, match=Match(methods=GET, path=f"/blobs/{layer_digest}"))
    with (
        start_proxy(registry.host, Scenario(faults=(forbid,))) as proxy,
        pytest.raises(RegistryError, match="answered HTTP 403") as refused,
    ):
        export(proxy.ref("layout/forbidden", "v1"), tmp_path)
    assert str(refused.value).endswith("; the credentials lack permission for this repository")
    assert proxy.count("GET", f"/blobs/{layer_digest}") == 1  # not worth another attempt


def test_exporting_a_64_mib_layer_costs_a_small_fraction_of_it_in_memory(
    registry: Registry, tmp_path: Path
) -> None:
    size = 64 * MIB
    layer = os.urandom(size)
    index_digest, layer_digest = push_index(registry, "layout/memory", layer)
    grown = peak_growth("layout", registry.ref("layout/memory", "v1"), str(tmp_path))
    print(f"\n[layout] peak RSS grew {grown / MIB:.1f} MiB")  # noqa: T201
    # Bounded by a few pieces of at most 2 MiB (written, held back, gathering) and the read
    # buffers: 6 to 8.4 MiB measured. Whole in memory, it would be the blob's size and more.
    assert grown < size / 4, f"exporting {size / MIB:.0f} MiB raised the peak RSS by {grown} B"
    assert blob_file(tmp_path, layer_digest).read_bytes() == layer
    (entry,) = json.loads((tmp_path / "index.json").read_text())["manifests"]
    assert entry["digest"] == index_digest
