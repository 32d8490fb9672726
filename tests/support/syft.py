"""The real syft, run as the pipeline runs it: from a scanner image, offline, over a rootfs.

The stand-in scanner image has the official image's shape (``FROM scratch``, ``/syft``,
``/tmp``) around the pinned binary (``support.go_tools.SYFT``). ``SyftScanner`` is the
core's ``Sbom``: podman runs the scanner with no network, the staged image's root
filesystem mounted, and the Dagger layer's own command line.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import anyio.to_thread

from metrics_api.oci.release.provenance import BaseImage
from metrics_api.oci.release.sbom import Scan
from metrics_api.scanner import SCANNER_BINARY, SCANNER_ENVIRONMENT, scanner_arguments

from .go_tools import SYFT, require_go_tool
from .images import push

if TYPE_CHECKING:
    from metrics_api.oci.release.job import VariantPlan
    from metrics_api.oci.spec.reference import Reference

    from .containers import ContainersEnv
    from .registry import Registry

ROOTFS = "/scan/rootfs"
OUTPUT = "/out/sbom.spdx.json"
SCAN_TIMEOUT = 600.0


@dataclass(frozen=True)
class ScannerImage:
    """The stand-in scanner image as pushed: where, and its manifest digest."""

    ref: str
    digest: str


def _tmp_tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        entry = tarfile.TarInfo("tmp")
        entry.type, entry.mode = tarfile.DIRTYPE, 0o1777
        tar.addfile(entry)
    return buffer.getvalue()


def push_scanner_image(containers: ContainersEnv, registry: Registry) -> ScannerImage:
    """Build the stand-in scanner image and push it as ``anchore/syft:VERSION`` to ``registry``."""
    syft = require_go_tool(SYFT)  # missing: fails and says how to install it
    name = f"localhost/anchore/syft:{SYFT.version}"
    with tempfile.TemporaryDirectory(dir=containers.tmpdir) as tmp:
        tmp_dir = Path(tmp) / "tmp.tar"
        tmp_dir.write_bytes(_tmp_tar())
        created = containers.run(["buildah", "from", "scratch"])
        container = created.stdout.strip().splitlines()[-1]
        try:
            containers.run(["buildah", "add", "--quiet", container, syft, SCANNER_BINARY])
            containers.run(["buildah", "add", "--quiet", container, str(tmp_dir), "/"])
            containers.run(
                ["buildah", "config", "--entrypoint", f'["{SCANNER_BINARY}"]', container]
            )
            containers.run(["buildah", "commit", "--quiet", container, name], timeout=120)
        finally:
            containers.run(["buildah", "rm", container], check=False)
    ref = registry.ref("anchore/syft", SYFT.version)
    return ScannerImage(ref, push(containers, name, ref))


class SyftScanner:
    """The core's ``Sbom``: the stand-in scanner over each staged image, with no network."""

    def __init__(
        self,
        containers: ContainersEnv,
        scanner: ScannerImage,
        name: str = "metrics-api",
        version: str = "v3.0.0",
    ) -> None:
        self.containers = containers
        self.scanner = scanner
        self.name = name
        self.version = version
        self.scanned: list[str] = []

    async def __call__(self, _plan: VariantPlan, staged: Reference) -> Scan:
        document = await anyio.to_thread.run_sync(self.scan, str(staged))
        return Scan(document, BaseImage(uri=self.scanner.ref, digest=self.scanner.digest))

    def scan(self, image: str) -> bytes:
        """syft's SPDX document of ``image`` (pulled by digest), run as the pipeline runs it."""
        self.scanned.append(image)
        self.containers.run(["podman", "pull", "--quiet", "--tls-verify=false", image], timeout=300)
        with tempfile.TemporaryDirectory(dir=self.containers.tmpdir) as out:
            command = [
                "podman",
                "run",
                "--rm",
                "--name",
                f"metrics-api-syft-{uuid.uuid4().hex[:10]}",
                "--network",
                "none",
                "--tls-verify=false",
                "--mount",
                f"type=image,source={image},destination={ROOTFS}",
                "--volume",
                f"{out}:{Path(OUTPUT).parent}",
                "--entrypoint",
                SCANNER_BINARY,
            ]
            for key, value in SCANNER_ENVIRONMENT.items():
                command += ["--env", f"{key}={value}"]
            arguments = scanner_arguments(ROOTFS, self.name, self.version, OUTPUT)
            self.containers.run([*command, self.scanner.ref, *arguments], timeout=SCAN_TIMEOUT)
            return (Path(out) / Path(OUTPUT).name).read_bytes()
