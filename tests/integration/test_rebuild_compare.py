"""`metrics-oci compare`: a published release against images rebuilt from its inputs."""

import time

import anyio
import pytest
from support.build_facts import Facts
from support.containers import ContainersEnv
from support.images import build_tiny_image, push
from support.oci_cli import run_cli
from support.registry import Registry
from support.release_runs import run_release
from support.stager import BuildahStager

from metrics_api.oci import Settings
from metrics_api.oci.registry.session import open_client
from metrics_api.oci.release.normalise import normalise_image
from metrics_api.oci.spec.reference import parse_reference

pytestmark = pytest.mark.integration

REPOSITORY = "metrics-api"
EPOCH = int(time.time()) - 86_400


def rebuilt(containers: ContainersEnv, target: Registry, image: str, tag: str) -> str:
    """``image`` pushed again elsewhere and made reproducible, as a rebuilder would."""
    pushed = push(containers, image, target.ref("rebuilt", tag))

    async def normalise() -> str:
        settings = Settings(insecure_registries=frozenset([target.host]), use_docker_config=False)
        async with open_client(settings) as client:
            ref = parse_reference(target.ref("rebuilt", pushed))
            done = await normalise_image(client, ref, epoch=EPOCH, keep=0, what=tag)
            return done.reference

    return anyio.run(normalise)


def test_the_same_inputs_compare_same_and_a_changed_file_is_named(
    staging: Registry, target: Registry, containers: ContainersEnv
) -> None:
    stage = BuildahStager(containers)
    report = run_release(
        staging, target, stage, version="v7.0.0", provenance=Facts(), source_date_epoch=str(EPOCH)
    )
    assert report.ok, report.summary()
    amd64 = rebuilt(containers, target, stage.images["linux/amd64"], "amd64")
    arm64 = rebuilt(containers, target, stage.images["linux/arm64"], "arm64")
    release = target.ref(REPOSITORY, "v7.0.0")

    same = run_cli(
        "compare", release, f"--rebuilt=linux/amd64={amd64}", f"--rebuilt=linux/arm64={arm64}"
    )

    assert same.code == 0, same.stderr
    assert [p["same"] for p in same.report["platforms"]] == [True, True]

    tampered = build_tiny_image(containers, "tampered", "amd64", content="another file\n")
    other = rebuilt(containers, target, tampered, "tampered")
    different = run_cli(
        "compare", release, f"--rebuilt=linux/amd64={other}", f"--rebuilt=linux/arm64={arm64}"
    )
    assert different.code == 1
    assert different.stderr == "error: not reproduced: linux/amd64\n"
    amd64_check = different.report["platforms"][0]
    assert amd64_check["same"] is False
    assert any(line.startswith("layer 1: ") for line in amd64_check["differences"])
    assert any(
        line.strip().startswith("hello.txt: ") and "content" in line
        for line in amd64_check["differences"]
    ), amd64_check["differences"]
    assert any(line.startswith("config ") for line in amd64_check["differences"]), (
        "the tiny image's label names its build"
    )

    missing = run_cli("compare", release, f"--rebuilt=linux/amd64={amd64}")
    assert missing.code == 1
    assert missing.report["platforms"][1]["problem"] == "no rebuilt image was given for it"


def test_a_release_without_an_epoch_cannot_be_compared(
    staging: Registry, target: Registry, containers: ContainersEnv
) -> None:
    stage = BuildahStager(containers)
    run_release(staging, target, stage, version="v7.1.0", provenance=Facts())
    ref = rebuilt(containers, target, stage.images["linux/amd64"], "no-epoch")

    result = run_cli("compare", target.ref(REPOSITORY, "v7.1.0"), f"--rebuilt=linux/amd64={ref}")

    assert result.code == 1
    problems = [p["problem"] for p in result.report["platforms"]]
    assert all(p.startswith("released without a SOURCE_DATE_EPOCH") for p in problems)


def test_a_release_without_provenance_cannot_be_compared(
    staging: Registry, target: Registry, containers: ContainersEnv
) -> None:
    stage = BuildahStager(containers)
    run_release(staging, target, stage, version="v7.2.0", source_date_epoch=str(EPOCH))
    ref = rebuilt(containers, target, stage.images["linux/amd64"], "no-provenance")

    result = run_cli("compare", target.ref(REPOSITORY, "v7.2.0"), f"--rebuilt=linux/amd64={ref}")

    assert result.code == 1
    assert result.report["platforms"][0]["problem"].startswith("no SLSA provenance")
