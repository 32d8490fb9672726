"""A release kept as an OCI image layout: skopeo pushes it later with the verified digests.

Run once per registry implementation (``support.registry_kinds``).
"""

import json
from pathlib import Path

import anyio
import pytest
from support.images import skopeo_inspect_platform, skopeo_raw
from support.oci_cli import Variants
from support.proc import run
from support.registry import Registry

from metrics_api.oci import AssembleReport, Settings, assemble, open_client, parse_reference
from metrics_api.oci.inputs import parse_requests
from metrics_api.oci.release.layout import write_layout

pytestmark = pytest.mark.integration


@pytest.fixture
def variants(kind_variants: Variants) -> Variants:
    """The variants in the registry of the kind under test."""
    return kind_variants


@pytest.fixture
def fresh_registry(fresh_kind_registry: Registry) -> Registry:
    """An empty registry of the kind under test."""
    return fresh_kind_registry


def test_a_layout_holds_the_index_and_every_image_byte_for_byte(
    variants: Variants, fresh_registry: Registry, tmp_path: Path
) -> None:
    layout = tmp_path / "metrics-api-oci"
    requests = parse_requests(
        [
            f"linux/amd64={variants.ref(variants.amd64)}",
            f"linux/arm64={variants.ref('v2.0.0-arm64')}",
        ],
        [],
        ("--variant", "--expect"),
    )

    async def job() -> AssembleReport:
        async with open_client(Settings(use_docker_config=False)) as client:
            report = await assemble(client, variants.ref("layout"), requests)
            await write_layout(client, parse_reference(variants.ref("layout")), layout, "v2.0.0")
            return report

    released = anyio.run(job)

    top = json.loads((layout / "index.json").read_text())
    (descriptor,) = top["manifests"]
    assert descriptor["digest"] == released.digest
    assert descriptor["annotations"] == {"org.opencontainers.image.ref.name": "v2.0.0"}
    assert json.loads((layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index_file = layout / "blobs" / "sha256" / released.digest.removeprefix("sha256:")
    assert index_file.read_bytes() == skopeo_raw(variants.ref("layout"))

    pushed = fresh_registry.ref("kept/metrics-api", "v2.0.0")
    run(
        [
            "skopeo",
            "--insecure-policy",
            "copy",
            "--all",
            "--preserve-digests",
            "--dest-tls-verify=false",
            f"oci:{layout}:v2.0.0",
            f"docker://{pushed}",
        ],
        timeout=120,
    )
    assert skopeo_raw(pushed) == index_file.read_bytes()
    for platform, digest in (("amd64", variants.amd64), ("arm64", variants.arm64)):
        assert skopeo_inspect_platform(pushed, "linux", platform)["ResolvedDigest"] == digest
