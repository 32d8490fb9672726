"""The whole scenario with real tools: build, push, stitch, pull by platform, run.

Only the Dagger engine is missing: buildah builds each variant from its own folder and
Dockerfile, the project's command line stitches the index, and skopeo and podman check it
the way the scenario's verifier and a consumer would.
"""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.bases import (
    BaseImages,
    RunningContainer,
    build_app_image,
    go_version,
    run_container,
)
from support.containers import ContainersEnv
from support.docker29 import manifest_digest, wrap_docker29
from support.go_tools import SYFT, require_go_tool
from support.images import push, sha256_digest, skopeo_inspect_platform, skopeo_raw
from support.oci_cli import run_cli
from support.phases import PHASES, phase
from support.registry import Registry
from support.syft import SyftScanner, push_scanner_image

from metrics_api.oci.release.provenance import BaseImage
from metrics_api.oci.release.sbom import Scan, normalised_document

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = "metrics-api"


@dataclass(frozen=True)
class Rehearsal:
    """What the rehearsal pushed and published, with the digests recorded at push time."""

    registry: Registry
    amd64: str
    arm64: str
    arm64_index: str
    report: dict[str, Any]

    @property
    def target(self) -> str:
        """The release reference."""
        return self.registry.ref(REPOSITORY, "v2.0.0")

    def assemble(self, *extra: str) -> tuple[int, dict[str, Any], str]:
        """Run the project's command line exactly as the rehearsal's step 4 does."""
        result = run_cli(
            "assemble",
            self.target,
            "--variant",
            f"linux/amd64={self.registry.ref(REPOSITORY, 'v2.0.0-amd64')}",
            "--variant",
            f"linux/arm64={self.registry.ref(REPOSITORY, 'v2.0.0-arm64')}",
            *extra,
        )
        return result.code, result.report, result.stderr


def build_variant(containers: ContainersEnv, folder: str, platform: str, version: str) -> str:
    """Build one variant from its own folder and Dockerfile, as its native runner would."""
    arch = platform.rsplit("/", 1)[1]
    tag = f"localhost/metrics-api:{version}-{arch}"
    build_app_image(
        containers,
        ROOT / folder,
        platform,
        tag,
        {"VERSION": version, "REVISION": "e2e", "SOURCE": "https://example.com/metrics-api"},
    )
    return tag


@pytest.fixture(scope="module")
def rehearsal(
    registry: Registry,
    containers: ContainersEnv,
    base_images: BaseImages,
) -> Rehearsal:
    """Steps 1 to 4: registry, bases, both variants built and pushed, the index assembled."""
    assert base_images.names
    how = "built" if base_images.built else "reused from the cache"
    PHASES[f"base-image stand-ins ({how})"] = base_images.seconds
    with phase("build app-amd64 (linux/amd64) and app-arm64 (linux/arm64)"):
        amd64_image = build_variant(containers, "app-amd64", "linux/amd64", "2.0.0")
        arm64_image = build_variant(containers, "app-arm64", "linux/arm64", "2.0.0")
    with phase("push the variants (arm64 the way Docker 29 does)"):
        amd64 = push(containers, amd64_image, registry.ref(REPOSITORY, "v2.0.0-amd64"))
        arm64 = push(
            containers, arm64_image, registry.ref(REPOSITORY, "v2.0.0-arm64"), format="docker"
        )
        wrapped = wrap_docker29(registry.host, REPOSITORY, arm64, "v2.0.0-arm64")
    with phase("assemble, publish and verify metrics-api:v2.0.0"):
        result = run_cli(
            "assemble",
            registry.ref(REPOSITORY, "v2.0.0"),
            "--variant",
            f"linux/amd64={registry.ref(REPOSITORY, 'v2.0.0-amd64')}",
            "--variant",
            f"linux/arm64={registry.ref(REPOSITORY, 'v2.0.0-arm64')}",
            "--expect",
            f"linux/amd64={amd64}",
            "--expect",
            f"linux/arm64={arm64}",
        )
    assert result.code == 0, result.stderr
    return Rehearsal(registry, amd64, arm64, wrapped.index_digest, result.report)


@pytest.fixture(scope="module")
def running(
    rehearsal: Rehearsal, client_containers: ContainersEnv
) -> Iterator[dict[str, RunningContainer]]:
    """Both platforms of :v2.0.0 pulled by platform into an empty store and started."""
    started: dict[str, RunningContainer] = {}
    try:
        with phase("pull :v2.0.0 by platform and start both containers"):
            for arch in ("amd64", "arm64"):
                started[arch] = run_container(
                    client_containers, rehearsal.target, arch, ready_path="/healthz"
                )
        yield started
    finally:
        for container in started.values():
            container.stop()


def test_one_index_lists_both_variants_by_their_recorded_digests(rehearsal: Rehearsal) -> None:
    raw = skopeo_raw(rehearsal.target)
    assert sha256_digest(raw) == rehearsal.report["digest"]
    index = json.loads(raw)
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert [
        (m["platform"]["os"], m["platform"]["architecture"], m["digest"])
        for m in index["manifests"]
    ] == [
        ("linux", "amd64", rehearsal.amd64),
        ("linux", "arm64", rehearsal.arm64),
    ]
    assert rehearsal.arm64 != rehearsal.arm64_index  # the inner image, not Docker's wrapper
    annotations = index["manifests"][0]["annotations"]
    assert annotations["org.opencontainers.image.version"] == "2.0.0"
    assert annotations["org.opencontainers.image.revision"] == "e2e"


def test_each_platform_resolves_to_its_variant(rehearsal: Rehearsal) -> None:
    with phase("skopeo: resolve each platform"):
        amd64 = skopeo_inspect_platform(rehearsal.target, "linux", "amd64")
        arm64 = skopeo_inspect_platform(rehearsal.target, "linux", "arm64")
    assert (amd64["ResolvedDigest"], amd64["Architecture"]) == (rehearsal.amd64, "amd64")
    assert (arm64["ResolvedDigest"], arm64["Architecture"]) == (rehearsal.arm64, "arm64")


def test_amd64_runs_go_and_arm64_runs_python(running: dict[str, RunningContainer]) -> None:
    versions = {
        arch: httpx.get(f"{container.url}/version", timeout=10).json()
        for arch, container in running.items()
    }
    assert versions["amd64"] | {"revision": None} == {
        "service": "metrics-api",
        "version": "2.0.0",
        "implementation": "go",
        "os": "linux",
        "arch": "amd64",
        "revision": None,
    }
    assert versions["arm64"]["implementation"] == "python"
    assert versions["arm64"]["arch"] == "arm64"
    assert versions["arm64"]["version"] == "2.0.0"


def test_contract_suite_passes_against_both_containers(
    running: dict[str, RunningContainer],
) -> None:
    targets = [
        {"implementation": "go", "arch": "amd64", "url": running["amd64"].url},
        {"implementation": "python", "arch": "arm64", "url": running["arm64"].url},
    ]
    with phase("contract suite against both containers"):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                str(ROOT / "tests" / "contract"),
                "-q",
                "-p",
                "no:cacheprovider",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=ROOT,
            env={**os.environ, "METRICS_API_CONTRACT_TARGETS": json.dumps(targets)},
            check=False,
        )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout


@pytest.fixture(scope="module")
def sboms(rehearsal: Rehearsal, containers: ContainersEnv) -> dict[str, dict[str, Any]]:
    """Each variant's SPDX document as a release makes it: syft from its image, offline."""
    scanner = SyftScanner(
        containers, push_scanner_image(containers, rehearsal.registry), version="v2.0.0"
    )
    documents = {}
    with phase("syft: an SBOM of each variant"):
        for arch, digest in (("amd64", rehearsal.amd64), ("arm64", rehearsal.arm64)):
            image = rehearsal.registry.ref(REPOSITORY, digest)
            scan = Scan(
                scanner.scan(image),
                BaseImage(uri=scanner.scanner.ref, digest=scanner.scanner.digest),
            )
            documents[arch] = normalised_document(scan, digest, None, f"linux/{arch}")
    return documents


def listed(document: dict[str, Any]) -> set[tuple[str, str]]:
    """The packages found in the image (not the scanned folder itself, the document's root)."""
    return {
        (p["name"], p.get("versionInfo", ""))
        for p in document["packages"]
        if not p["SPDXID"].startswith("SPDXRef-DocumentRoot-")
    }


def test_the_amd64_sbom_lists_the_go_module_its_go_and_the_distroless_packages(
    sboms: dict[str, dict[str, Any]],
) -> None:
    packages = listed(sboms["amd64"])
    go = go_version()
    assert ("metrics-api", "v2.0.0") in packages  # the main module, at the release's version
    assert ("stdlib", f"go{go}") in packages  # the Go the binary was built with
    assert {("base-files", "12.4+deb12u13"), ("netbase", "6.4")} <= packages


def test_the_arm64_sbom_lists_the_debian_packages_and_the_python_interpreter(
    sboms: dict[str, dict[str, Any]],
) -> None:
    names = {name for name, _ in listed(sboms["arm64"])}
    assert {"python3", "python3.11", "libpython3.11-stdlib", "libc6", "dash"} <= names


def test_syft_alone_lists_what_our_sboms_list(
    rehearsal: Rehearsal, sboms: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """syft outside our code, on the published images, reads the same packages."""
    syft = require_go_tool(SYFT)
    env = {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false", "HOME": str(tmp_path)}
    env["SYFT_REGISTRY_INSECURE_USE_HTTP"] = "true"
    for arch, digest in (("amd64", rehearsal.amd64), ("arm64", rehearsal.arm64)):
        image = rehearsal.registry.ref(REPOSITORY, digest)
        alone = subprocess.run(
            [syft, "scan", f"registry:{image}", "-o", "syft-json"],
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
            check=True,
        )
        found = {(a["name"], a["version"]) for a in json.loads(alone.stdout)["artifacts"]}
        assert found == listed(sboms[arch]), (arch, found ^ listed(sboms[arch]))


def test_rerun_unchanged_is_a_noop(rehearsal: Rehearsal) -> None:
    code, report, stderr = rehearsal.assemble()
    assert code == 0, stderr
    assert report["tag_action"] == "unchanged"
    assert report["digest"] == rehearsal.report["digest"]


def test_a_rebuilt_variant_moves_the_release_only_with_force(
    rehearsal: Rehearsal, containers: ContainersEnv
) -> None:
    registry = rehearsal.registry
    with phase("rebuild app-amd64 as 2.0.1 and push it"):
        rebuilt = build_variant(containers, "app-amd64", "linux/amd64", "2.0.1")
        new_amd64 = push(containers, rebuilt, registry.ref(REPOSITORY, "v2.0.0-amd64"))
    assert new_amd64 != rehearsal.amd64
    code, refused, stderr = rehearsal.assemble()
    assert code == 1
    assert "already points at" in stderr
    assert "--force" in stderr
    assert refused["ok"] is False
    assert manifest_digest(registry.host, REPOSITORY, "v2.0.0") == rehearsal.report["digest"]
    code, moved, stderr = rehearsal.assemble("--force")
    assert code == 0, stderr
    assert moved["tag_action"] == "moved"
    assert moved["verification"]["ok"] is True
    assert manifest_digest(registry.host, REPOSITORY, "v2.0.0") == moved["digest"]
    assert (
        skopeo_inspect_platform(rehearsal.target, "linux", "amd64")["ResolvedDigest"] == new_amd64
    )
