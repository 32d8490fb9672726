"""What an SBOM adds to a release: seconds per variant for the scan, and bytes stored.

Builds both real variants from their folders and Dockerfiles (buildah, the e2e stand-ins
of the base images), then scans each one's root filesystem (``podman image mount``) with
the pinned syft and the pipeline's own command line, in a network namespace of its own
(``unshare -n``): the work the engine's scan does, without the container's start. The
statement is what the release stores (normalised, canonical JSON), so its size is what a
release uploads once per variant.

    .venv/bin/python bench/sbom_bench.py [--runs 5]       (as root)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from assemble_bench import machine
from support.bases import build_app_image, ensure_base_images
from support.containers import create_containers_env
from support.go_tools import SYFT, require_go_tool

from metrics_api.oci.release.provenance import BaseImage
from metrics_api.oci.release.sbom import Scan, normalised_document, sbom_statement
from metrics_api.scanner import SCANNER_ENVIRONMENT, scanner_arguments

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = (("linux/amd64", "app-amd64"), ("linux/arm64", "app-arm64"))


def main() -> None:
    """Build, push, scan each variant ``--runs`` times; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    syft = require_go_tool(SYFT)
    pinned = BaseImage(uri=f"syft@{SYFT.version}", digest="sha256:" + "0" * 64)
    containers = create_containers_env()
    try:
        ensure_base_images(containers)
        for platform, folder in VARIANTS:
            tag = f"localhost/metrics-api:bench-{folder}"
            image = build_app_image(containers, ROOT / folder, platform, tag, {"VERSION": "2.0.0"})
            rootfs = containers.run(["podman", "image", "mount", image]).stdout.strip()
            seconds, document = [], b""
            with tempfile.TemporaryDirectory() as out:
                output = f"{out}/sbom.spdx.json"
                command = [
                    "unshare",
                    "-n",
                    syft,
                    *scanner_arguments(rootfs, "metrics-api", "v2.0.0", output),
                ]
                for _ in range(args.runs):
                    started = time.perf_counter()
                    subprocess.run(command, env={**os.environ, **SCANNER_ENVIRONMENT}, check=True)
                    seconds.append(time.perf_counter() - started)
                    document = Path(output).read_bytes()
            containers.run(["podman", "image", "unmount", image])
            digest = "sha256:" + hashlib.sha256(image.encode()).hexdigest()
            normalised = normalised_document(Scan(document, pinned), digest, None, platform)
            statement = sbom_statement(digest, f"pkg:docker/metrics-api@{folder}", normalised)
            spdx = json.loads(statement)["predicate"]
            print(
                f"{platform}: scan median {statistics.median(seconds):.2f} s "
                f"(min {min(seconds):.2f}, max {max(seconds):.2f}, {args.runs} runs); "
                f"syft wrote {len(document)} bytes, the statement stored is "
                f"{len(statement)} bytes; {len(spdx['packages'])} packages, "
                f"{len(spdx.get('files', []))} files"
            )
        print(f"machine after: {machine()}")
    finally:
        containers.cleanup()


if __name__ == "__main__":
    main()
