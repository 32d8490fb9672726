"""An assembly reads its signature tags beside the index's write, its signatures made as if new.

``assemble`` learns the index's digest only once every variant resolved, so its signature
tags are read while the index is stored, and the signatures are made and uploaded
meanwhile as if each tag were new. These tests take the cases where that guess is wrong: a
tag that holds another key's signature, one that holds this key's own, and one another
signer writes between the read and the write. Real cosign v2 and v3 check the result.
"""

import json
import os
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from support.cosign import KeyPair, Kit, make_kit
from support.docker29 import get_manifest
from support.faultproxy import start_proxy
from support.registry import Registry, start_registry
from support.stager import snapshot

from metrics_api.oci import inputs, jobs
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.registry.session import Settings, open_client
from metrics_api.oci.release import signatures
from metrics_api.oci.release.reports import AssembleReport
from metrics_api.oci.signing.keys import SigningKey, load_signing_key
from metrics_api.oci.signing.store import plan_signing, write_signing
from metrics_api.oci.spec import media_types
from metrics_api.oci.spec.reference import parse_reference

pytestmark = pytest.mark.integration

REPOSITORY = "signed/beside"
PASSWORD = "beside the index"  # noqa: S105 - a test key's password


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    return make_kit(tmp_path_factory.mktemp("cosign"), PASSWORD)


@pytest.fixture
def registry() -> Iterator[Registry]:
    with start_registry() as started:
        yield started


def signer_of(pair: KeyPair) -> SigningKey:
    return load_signing_key(
        pair.private.read_bytes(), pair.password, where="test key", given_in="the test"
    )


async def push_image(client: RegistryClient, host: str, architecture: str) -> str:
    """A tiny image with a layer of its own; the reference it was pushed under."""
    ref = parse_reference(f"{host}/{REPOSITORY}:{architecture}")
    layer = os.urandom(64)
    rootfs = {"type": "layers", "diff_ids": [await client.put_blob(ref, layer)]}
    config = json.dumps({"architecture": architecture, "os": "linux", "rootfs": rootfs})
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_types.OCI_MANIFEST,
        "config": {
            "mediaType": media_types.OCI_CONFIG,
            "digest": await client.put_blob(ref, config.encode()),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": rootfs["diff_ids"][0],
                "size": len(layer),
            }
        ],
    }
    await client.put_manifest(ref, json.dumps(manifest).encode(), media_types.OCI_MANIFEST)
    return str(ref)


def settings(registry: Registry) -> Settings:
    return settings_for(registry.host)


def settings_for(host: str) -> Settings:
    return Settings(insecure_registries=frozenset([host]), use_docker_config=False)


def push_variants(registry: Registry) -> list[str]:
    async def push() -> list[str]:
        async with open_client(settings(registry)) as client:
            return [
                f"linux/{arch}=" + await push_image(client, registry.host, arch)
                for arch in ("amd64", "arm64")
            ]

    return anyio.run(push)


def assemble(registry: Registry, variants: list[str], tag: str, key: SigningKey) -> AssembleReport:
    async def run() -> AssembleReport:
        async with open_client(settings(registry)) as client:
            target = registry.ref(REPOSITORY, tag)
            requests = inputs.parse_requests(variants, [], ("--variant", "--expect"))
            return await jobs.assemble(client, target, requests, signer=key)

    report = anyio.run(run)
    assert report.ok, report.text()
    assert report.tag_action == "created"
    return report


def signature_tag(digest: str) -> str:
    return f"sha256-{digest.split(':')[1]}.sig"


def verified_by(kit: Kit, registry: Registry, digest: str, pair: KeyPair) -> list[int]:
    ref = registry.ref(REPOSITORY, digest)
    return [tool.verify(ref, pair.public).returncode for tool in kit.tools.values()]


def assert_signed_by_both(
    kit: Kit, registry: Registry, report: AssembleReport, key: SigningKey
) -> None:
    """``key``'s signature of the index beside one other, and both keys verify every digest."""
    tag = signature_tag(report.digest)
    assert (
        f"signature of index {report.digest}: signed by key {key.public.key_id} in {tag}; "
        "1 by other keys kept beside it"
    ) in report.signatures
    assert len(get_manifest(registry.host, REPOSITORY, tag).json()["layers"]) == 2
    for digest in (report.digest, *(variant.digest for variant in report.variants)):
        assert verified_by(kit, registry, digest, kit.key) == [0, 0]
        assert verified_by(kit, registry, digest, kit.other) == [0, 0]


def test_a_tag_with_another_keys_signature_gets_this_one_beside_it(
    registry: Registry, kit: Kit
) -> None:
    variants = push_variants(registry)
    first = assemble(registry, variants, "by-first", signer_of(kit.key))

    second = assemble(registry, variants, "by-other", signer_of(kit.other))

    assert second.digest == first.digest
    assert_signed_by_both(kit, registry, second, signer_of(kit.other))


def test_a_tag_with_this_keys_signature_gets_no_new_content(registry: Registry, kit: Kit) -> None:
    variants = push_variants(registry)
    key = signer_of(kit.key)
    first = assemble(registry, variants, "first", key)
    before = snapshot(registry)

    again = assemble(registry, variants, "again", key)

    digests = [first.digest, *(variant.digest for variant in first.variants)]
    assert len(again.signatures) == len(digests)
    assert all(f"already signed by key {key.public.key_id}" in s for s in again.signatures)
    after = snapshot(registry)
    blobs = {path: sha for path, sha in after.items() if path.endswith("/data")}
    assert blobs == {path: sha for path, sha in before.items() if path.endswith("/data")}
    changed = {path for path in after if before.get(path) != after[path]}
    assert changed, "the new tag is stored"
    assert all("/_manifests/tags/again/" in path for path in changed), sorted(changed)


def test_a_signer_that_writes_after_the_read_is_kept(
    registry: Registry, kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    variants = push_variants(registry)
    other = signer_of(kit.other)
    real_plan = signatures.plan_release_signing

    async def read_then_other_signs(*args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
        read = await real_plan(*args, **kwargs)
        assert read is not None
        assert read.key is not None
        client, target = args[0], args[1]
        subjects = list(dict.fromkeys(tag.subject for tag in read.key.tags))
        await write_signing(client, await plan_signing(client, target, subjects, other))
        return read

    monkeypatch.setattr(signatures, "plan_release_signing", read_then_other_signs)
    report = assemble(registry, variants, "raced", signer_of(kit.key))

    assert_signed_by_both(kit, registry, report, signer_of(kit.key))


def test_signing_opens_the_connections_it_needs_while_the_variants_resolve(
    registry: Registry, kit: Kit
) -> None:
    variants = push_variants(registry)
    with start_proxy(registry.host) as proxy:
        proxied = [variant.replace(registry.host, proxy.host) for variant in variants]

        async def run(tag: str, key: SigningKey | None) -> AssembleReport:
            async with open_client(settings_for(proxy.host)) as client:
                target = f"{proxy.host}/{REPOSITORY}:{tag}"
                requests = inputs.parse_requests(proxied, [], ("--variant", "--expect"))
                return await jobs.assemble(client, target, requests, signer=key)

        unsigned = anyio.run(run, "unsigned", None)
        assert unsigned.ok, unsigned.text()
        assert proxy.count("GET", r"^/v2/$") == 0

        proxy.clear_log()
        signed = anyio.run(run, "signed", signer_of(kit.key))
        assert signed.ok, signed.text()
        ahead = signatures.connections_to_sign(len(variants))
        assert ahead == 9, "two uploads and a tag's look for the index and each image"
        assert proxy.count("GET", r"^/v2/$") == ahead
        assert signed.requests == len(proxy.log), "the report counts them"
