"""Artifacts attached to a copied child by ``subject`` (OCI 1.1 referrers) come with it.

The source serves the referrers API (go-containerregistry's registry with it switched on;
neither distribution 2.8 nor v3 serves it): a signature and an SBOM of the image, and a
signature of the SBOM, are copied to the target with the image, byte for byte, and the
target lists them: by its referrers API, or by the fallback tag where it has none. From a
registry without the API (distribution 2.8 and v3 answer 404), the image is copied alone
and nothing fails.
"""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

import anyio
import httpx
import pytest
from support.docker29 import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
    descriptor,
    get_blob,
    get_manifest,
    json_bytes,
    push_blob,
    put_manifest,
)
from support.faultproxy import start_proxy
from support.oci_cli import CliResult, run_cli
from support.proc import ToolMissingError
from support.registry import Registry, RegistryStartError, start_registry
from support.registry_kinds import DISTRIBUTION_2_8, DISTRIBUTION_3, ReferrersRegistry, RegistryKind

from metrics_api.oci import Settings, open_client
from metrics_api.oci.registry.referrers import add_to_fallback, fallback_tag
from metrics_api.oci.spec.models import Descriptor
from metrics_api.oci.spec.reference import parse_reference

pytestmark = pytest.mark.integration

REPOSITORY = "team/signed"
EMPTY = b"{}"
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_manifest(registry: Registry, body: bytes, repository: str = REPOSITORY) -> str:
    return put_manifest(registry.host, repository, digest_of(body), body, OCI_MANIFEST)


def push_image(registry: Registry) -> tuple[bytes, str]:
    """A one-layer linux/amd64 image; its manifest bytes and digest."""
    config = json_bytes(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
    )
    layer = b"a layer of the signed image"
    push_blob(registry.host, REPOSITORY, config)
    push_blob(registry.host, REPOSITORY, layer)
    manifest = json_bytes(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, config),
            "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", layer)],
        }
    )
    return manifest, push_manifest(registry, manifest)


def push_artifact(
    registry: Registry,
    subject: bytes,
    artifact_type: str,
    content: bytes,
    repository: str = REPOSITORY,
) -> str:
    """An OCI 1.1 artifact about ``subject`` (an empty config, one layer); its digest."""
    push_blob(registry.host, repository, EMPTY)
    push_blob(registry.host, repository, content)
    body = json_bytes(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": artifact_type,
            "config": descriptor(EMPTY_TYPE, EMPTY),
            "layers": [descriptor(artifact_type, content)],
            "subject": descriptor(OCI_MANIFEST, subject),
        }
    )
    return push_manifest(registry, body, repository)


@dataclass(frozen=True)
class Signed:
    """An image with a signature and an SBOM, and a signature of the SBOM."""

    registry: Registry
    image: str
    signature: str
    sbom: str
    sbom_signature: str


def sign(registry: Registry) -> Signed:
    manifest, image = push_image(registry)
    signature = push_artifact(
        registry, manifest, "application/vnd.example.signature", b"signature of the image"
    )
    sbom = push_artifact(registry, manifest, "application/spdx+json", b'{"spdxVersion":"2.3"}')
    sbom_manifest = get_manifest(registry.host, REPOSITORY, sbom).body
    sbom_signature = push_artifact(
        registry, sbom_manifest, "application/vnd.example.signature", b"signature of the SBOM"
    )
    return Signed(registry, image, signature, sbom, sbom_signature)


def start(registry_class: type[Registry]) -> Registry:
    try:
        return start_registry(registry_class=registry_class)
    except (ToolMissingError, RegistryStartError) as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def referrers_registry() -> Iterator[Registry]:
    """A registry that serves the referrers API."""
    with start(ReferrersRegistry) as registry:
        yield registry


def referrers(registry: Registry, repository: str, subject: str) -> list[str]:
    """What the registry's referrers API lists for ``subject``."""
    with httpx.Client(timeout=10) as client:
        listed = client.get(
            f"{registry.url}/v2/{repository}/referrers/{subject}", headers={"Accept": OCI_INDEX}
        )
    assert listed.status_code == 200, listed.text
    return sorted(entry["digest"] for entry in listed.json()["manifests"])


def assemble_into(target: Registry, image: str) -> CliResult:
    """``assemble`` of the reference ``image`` into ``target``'s metrics-api:v2.0.0; it passed."""
    result = run_cli(
        "assemble", target.ref("metrics-api", "v2.0.0"), "--variant", f"linux/amd64={image}"
    )
    assert result.code == 0, result.stderr
    return result


def test_referrers_of_a_copied_child_are_copied_with_it(referrers_registry: Registry) -> None:
    source = sign(referrers_registry)
    assert referrers(referrers_registry, REPOSITORY, source.image) == sorted(
        [source.signature, source.sbom]
    )
    with start(ReferrersRegistry) as target:
        result = assemble_into(target, referrers_registry.ref(REPOSITORY, source.image))
        written = result.report["written"]
        assert f"linux/amd64 image {source.image} (copied)" in written
        for artifact in (source.signature, source.sbom, source.sbom_signature):
            assert f"linux/amd64 referrer {artifact} (copied)" in written
            copy = get_manifest(target.host, "metrics-api", artifact)
            assert copy.body == get_manifest(referrers_registry.host, REPOSITORY, artifact).body
            for layer in copy.json()["layers"]:
                get_blob(target.host, "metrics-api", layer["digest"])
        assert referrers(target, "metrics-api", source.image) == sorted(
            [source.signature, source.sbom]
        )
        assert referrers(target, "metrics-api", source.sbom) == [source.sbom_signature]
        assert result.report["verification"]["ok"] is True


def fallback_list(registry: Registry, repository: str, subject: str) -> list[str]:
    """What the fallback tag ``sha256-HEX`` of ``subject`` lists."""
    tag = subject.replace(":", "-")
    return sorted(
        entry["digest"]
        for entry in get_manifest(registry.host, repository, tag).json()["manifests"]
    )


@pytest.mark.parametrize("kind", [DISTRIBUTION_2_8, DISTRIBUTION_3], ids=lambda kind: kind.name)
def test_a_target_without_the_referrers_api_lists_them_in_the_fallback_tag(
    kind: RegistryKind, referrers_registry: Registry
) -> None:
    source = sign(referrers_registry)
    with start(kind.registry_class) as target:
        # Something already listed there stays listed.
        note = "application/vnd.example.note"
        earlier = push_artifact(target, b"{}", note, b"earlier note", "metrics-api")
        listing = json_bytes(
            {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [
                    descriptor(OCI_MANIFEST, get_manifest(target.host, "metrics-api", earlier).body)
                ],
            }
        )
        tag = source.image.replace(":", "-")
        put_manifest(target.host, "metrics-api", tag, listing, OCI_INDEX)
        result = assemble_into(target, referrers_registry.ref(REPOSITORY, source.image))
        written = result.report["written"]
        for artifact in (source.signature, source.sbom):
            assert f"linux/amd64 referrer {artifact} (copied, listed in {tag})" in written
        sbom_tag = source.sbom.replace(":", "-")
        assert (
            f"linux/amd64 referrer {source.sbom_signature} (copied, listed in {sbom_tag})"
            in written
        )
        assert fallback_list(target, "metrics-api", source.image) == sorted(
            [earlier, source.signature, source.sbom]
        )
        assert fallback_list(target, "metrics-api", source.sbom) == [source.sbom_signature]


@pytest.mark.parametrize("kind", [DISTRIBUTION_2_8, DISTRIBUTION_3], ids=lambda kind: kind.name)
def test_a_source_without_the_referrers_api_gives_the_image_alone(
    kind: RegistryKind, fresh_registry: Registry
) -> None:
    with start(kind.registry_class) as registry:
        source = sign(registry)  # both store a manifest with a subject ...
        with start_proxy(registry.host) as proxy:
            result = assemble_into(fresh_registry, proxy.ref(REPOSITORY, source.image))
    # ... but neither lists referrers: 404, and the image is copied alone.
    assert [e.status for e in proxy.log if "/referrers/" in e.path] == [404]
    assert not [line for line in result.report["written"] if " referrer " in line]
    with httpx.Client(timeout=10) as client:
        absent = client.head(
            f"{fresh_registry.url}/v2/metrics-api/manifests/{source.signature}",
            headers={"Accept": OCI_MANIFEST},
        )
    assert absent.status_code == 404
    assert (
        json.loads(get_manifest(fresh_registry.host, "metrics-api", "v2.0.0").body)["manifests"][0][
            "digest"
        ]
        == source.image
    )


def test_adding_what_the_fallback_tag_lists_already_writes_nothing(registry: Registry) -> None:
    _, image = push_image(registry)
    note = push_artifact(registry, b"{}", "application/vnd.example.note", b"a note")
    listed = Descriptor(
        media_type=OCI_MANIFEST,
        digest=note,
        size=len(get_manifest(registry.host, REPOSITORY, note).body),
    )
    with start_proxy(registry.host) as proxy:
        through = fallback_tag(parse_reference(proxy.ref(REPOSITORY, "any")), image)

        async def add_twice() -> None:
            async with open_client(Settings(use_docker_config=False)) as client:
                await add_to_fallback(client, through, [listed])
                proxy.clear_log()
                await add_to_fallback(client, through, [listed])

        anyio.run(add_twice)
        assert [entry.method for entry in proxy.log] == ["GET"]
    assert fallback_list(registry, REPOSITORY, image) == [note]
