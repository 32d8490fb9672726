"""A release with --source-date-epoch publishes normalised images, and says so in provenance."""

import gzip
import json
import time
from typing import Any

import anyio
import pytest
from support.build_facts import Facts
from support.containers import ContainersEnv
from support.docker29 import (
    OCI_CONFIG,
    OCI_MANIFEST,
    descriptor,
    get_blob,
    get_manifest,
    json_bytes,
    push_blob,
    put_manifest,
    sha256_digest,
)
from support.registry import Registry
from support.release_runs import run_release
from support.stager import BuildahStager, snapshot

from metrics_api.oci import Settings
from metrics_api.oci.errors import InvalidInputError, ReproducibilityError
from metrics_api.oci.release.job import (
    Stage,
    Staging,
    VariantPlan,
    parse_variant_table,
    release,
)

pytestmark = pytest.mark.integration

REPOSITORY = "metrics-api"
EPOCH = int(time.time()) - 86_400


def config_of(target: Registry, digest: str) -> dict[str, Any]:
    manifest = get_manifest(target.host, REPOSITORY, digest).json()
    document: dict[str, Any] = json.loads(
        get_blob(target.host, REPOSITORY, manifest["config"]["digest"])
    )
    return document


def provenance_of(target: Registry, tag: str, image: str) -> dict[str, Any]:
    entries = get_manifest(target.host, REPOSITORY, tag).json()["manifests"]
    (attestation,) = [
        e for e in entries if e.get("annotations", {}).get("vnd.docker.reference.digest") == image
    ]
    (layer,) = get_manifest(target.host, REPOSITORY, attestation["digest"]).json()["layers"]
    predicate: dict[str, Any] = json.loads(get_blob(target.host, REPOSITORY, layer["digest"]))[
        "predicate"
    ]
    return predicate


def test_the_published_images_are_the_normalised_ones_and_provenance_records_the_epoch(
    staging: Registry, target: Registry, fresh_registry: Registry, containers: ContainersEnv
) -> None:
    stage = BuildahStager(containers)

    report = run_release(
        staging, target, stage, version="v6.0.0", provenance=Facts(), source_date_epoch=str(EPOCH)
    )

    assert report.ok, report.summary()
    for variant in report.variants:
        assert variant.digest != stage.staged[variant.platform], "the build's times were later"
        config = config_of(target, variant.digest)
        assert config["created"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(EPOCH))
        predicate = provenance_of(target, "v6.0.0", variant.digest)
        definition = predicate["buildDefinition"]
        assert definition["externalParameters"]["sourceDateEpoch"] == str(EPOCH)
        assert definition["internalParameters"]["normalisation"]["baseLayersKept"] == 0
    ledger = {c.name: c for c in report.assembly.verification.checks}  # type: ignore[union-attr]
    assert ledger["ledger linux/amd64"].ok

    # The same builds again, from an empty staging registry: the same digests, nothing written.
    before = snapshot(target)
    again = run_release(
        fresh_registry,
        target,
        stage,
        version="v6.0.0",
        provenance=Facts(),
        source_date_epoch=str(EPOCH),
    )
    assert [v.digest for v in again.variants] == [v.digest for v in report.variants]
    assert snapshot(target) == before


def test_without_an_epoch_the_built_images_are_published_as_they_are(
    staging: Registry, target: Registry, containers: ContainersEnv
) -> None:
    stage = BuildahStager(containers)
    report = run_release(staging, target, stage, version="v6.1.0")
    assert [v.digest for v in report.variants] == [
        stage.staged[v.platform] for v in report.variants
    ]


@pytest.mark.parametrize("epoch", ["-5", "soon", str(int(time.time()) + 3_600)])
def test_a_bad_epoch_fails_before_any_build(
    staging: Registry, target: Registry, containers: ContainersEnv, epoch: str
) -> None:
    stage = BuildahStager(containers)
    with pytest.raises(InvalidInputError, match="SOURCE_DATE_EPOCH"):
        run_release(staging, target, stage, version="v6.2.0", source_date_epoch=epoch)
    assert stage.staged == {}
    assert snapshot(target) == {}


def _bad_layer_stage(layer: bytes, media_type: str) -> Stage:
    """A build tool that pushes an image whose one layer cannot be rewritten."""

    async def stage(plan: VariantPlan, address: str) -> str:
        host, _, rest = address.partition("/")
        repository = rest.partition(":")[0]
        arch = plan.platform.architecture
        config = json_bytes(
            {
                "architecture": arch,
                "os": "linux",
                "created": "2099-01-01T00:00:00Z",
                "rootfs": {"type": "layers", "diff_ids": [sha256_digest(layer)]},
            }
        )
        manifest = json_bytes(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": descriptor(OCI_CONFIG, config),
                "layers": [descriptor(media_type, layer)],
            }
        )
        push_blob(host, repository, layer)
        push_blob(host, repository, config)
        digest = put_manifest(host, repository, address.rpartition(":")[2], manifest, OCI_MANIFEST)
        return f"{address}@{digest}"

    return stage


@pytest.mark.parametrize(
    ("layer", "media_type", "found"),
    [
        (b"not gzip at all", "application/vnd.oci.image.layer.v1.tar+gzip", "not gzip"),
        (
            gzip.compress(b"not a tar" * 100),
            "application/vnd.oci.image.layer.v1.tar+gzip",
            "not a tar",
        ),
        (b"\x28\xb5\x2f\xfd", "application/vnd.oci.image.layer.v1.tar+zstd", "a compression"),
    ],
)
def test_a_layer_that_cannot_be_rewritten_fails_the_release_naming_it(
    staging: Registry, target: Registry, layer: bytes, media_type: str, found: str
) -> None:
    stage = _bad_layer_stage(layer, media_type)

    async def job() -> None:
        await release(
            parse_variant_table(["linux/amd64=app-amd64"], "--variants"),
            stage,
            staging=Staging(push_host=staging.host, host=staging.host),
            registry=target.host,
            repository=REPOSITORY,
            version="v6.3.0",
            settings=Settings(use_docker_config=False),
            source_date_epoch=str(EPOCH),
        )

    with pytest.raises(ReproducibilityError) as raised:
        anyio.run(job)
    message = str(raised.value)
    assert message.startswith(f"linux/amd64 image, layer 1 ({sha256_digest(layer)}): ")
    assert found in message
    assert message.endswith("nothing was written")
    assert snapshot(target) == {}
