"""Reproducible images: two builds of the same source, an hour apart, normalise to one digest.

buildah builds each real variant twice from copies of its folder whose files are an hour
apart in time (as two fresh checkouts would be); both are pushed with the stand-in base
they start from, then normalised to SOURCE_DATE_EPOCH as a release does it in its
staging registry. The results are byte-identical, keep the base's layers, normalise to
themselves again, and podman pulls and runs them.
"""

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
import pytest
from support.bases import RUNTIME_IMAGE, BaseImages, build_app_image, run_container
from support.containers import ContainersEnv
from support.images import push
from support.registry import Registry

from metrics_api.oci import Settings
from metrics_api.oci.registry.session import open_client
from metrics_api.oci.release.normalise import Normalised
from metrics_api.oci.release.reproducible import make_reproducible
from metrics_api.oci.spec.models import ImageManifest
from metrics_api.oci.spec.platform import parse_platform
from metrics_api.oci.spec.reference import parse_reference

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = "reproducible/metrics-api"
EPOCH = int(time.time()) - 86_400  # a commit of yesterday: every file here is later


def checkout(source: Path, into: Path, mtime: float) -> Path:
    """A copy of ``source`` whose every file and folder has ``mtime``: a fresh checkout."""
    shutil.copytree(source, into)
    for path in [into, *into.rglob("*")]:
        os.utime(path, (mtime, mtime), follow_symlinks=False)
    return into


@dataclass(frozen=True)
class Built:
    """One build as pushed, and what normalising it gave."""

    pushed: str
    normalised: Normalised


async def _normalise(registry: Registry, image: str, base: str, platform: str) -> Normalised:
    settings = Settings(insecure_registries=frozenset([registry.host]), use_docker_config=False)
    async with open_client(settings) as client:
        ref = parse_reference(registry.ref(REPOSITORY, image))
        base_ref = parse_reference(registry.ref(REPOSITORY, base))
        return await make_reproducible(
            client,
            EPOCH,
            staged=ref,
            base=base_ref,
            platform=parse_platform(platform),
            what=platform,
        )


def build_twice(
    containers: ContainersEnv, registry: Registry, tmp: Path, folder: str, platform: str
) -> tuple[Built, Built]:
    arch = platform.rsplit("/", 1)[1]
    builds = []
    for number, mtime in enumerate([time.time(), time.time() + 3_600]):
        context = checkout(ROOT / folder, tmp / f"{folder}-{number}", mtime)
        tag = f"localhost/reproducible:{arch}-{number}"
        build_app_image(containers, context, platform, tag, {"VERSION": "2.0.0"})
        pushed = push(containers, tag, registry.ref(REPOSITORY, f"{arch}-{number}"))
        builds.append(pushed)
    first, second = (
        Built(pushed, anyio.run(_normalise, registry, pushed, f"base-{arch}", platform))
        for pushed in builds
    )
    return first, second


@pytest.fixture(scope="module")
def amd64(
    registry: Registry,
    containers: ContainersEnv,
    base_images: BaseImages,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Built, Built]:
    assert RUNTIME_IMAGE in base_images.names
    push(containers, RUNTIME_IMAGE, registry.ref(REPOSITORY, "base-amd64"))
    return build_twice(
        containers, registry, tmp_path_factory.mktemp("checkouts"), "app-amd64", "linux/amd64"
    )


def layers(registry: Registry, digest: str) -> list[str]:
    async def read() -> list[str]:
        settings = Settings(insecure_registries=frozenset([registry.host]), use_docker_config=False)
        async with open_client(settings) as client:
            document = (
                await client.get_manifest(parse_reference(registry.ref(REPOSITORY, digest)))
            ).document
            assert isinstance(document, ImageManifest)
            return [layer.digest for layer in document.layers]

    return anyio.run(read)


def test_two_checkouts_an_hour_apart_give_one_digest(amd64: tuple[Built, Built]) -> None:
    first, second = amd64
    assert first.pushed != second.pushed, "as built, the times differ"
    assert first.normalised.digest == second.normalised.digest
    assert first.normalised.layers, "the build's own layer was rewritten"


def test_the_base_layers_keep_their_digests(amd64: tuple[Built, Built], registry: Registry) -> None:
    first, _ = amd64
    kept = first.normalised.kept
    base = layers(registry, "base-amd64")
    assert kept == len(base) >= 1
    assert layers(registry, first.normalised.digest)[:kept] == base
    assert layers(registry, first.pushed)[:kept] == base
    assert all(position >= kept for position in first.normalised.layers)


def test_normalising_twice_changes_nothing(amd64: tuple[Built, Built], registry: Registry) -> None:
    first, _ = amd64
    again = anyio.run(_normalise, registry, first.normalised.digest, "base-amd64", "linux/amd64")
    assert again.digest == first.normalised.digest
    assert (again.layers, again.uploaded) == ((), 0)


def test_podman_pulls_and_runs_the_normalised_image(
    amd64: tuple[Built, Built], registry: Registry, client_containers: ContainersEnv
) -> None:
    first, _ = amd64
    running = run_container(
        client_containers,
        registry.ref(REPOSITORY, first.normalised.digest),
        "amd64",
        ready_path="/healthz",
    )
    try:
        answer = httpx.get(f"{running.url}/healthz", timeout=10)
    finally:
        running.stop()
    assert answer.status_code == httpx.codes.OK
