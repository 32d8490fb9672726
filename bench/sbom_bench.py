"""What an SBOM adds to a release: seconds per variant for the scan, and bytes stored.

Builds both real variants from their folders and Dockerfiles (buildah, the e2e stand-ins
of the base images), pushes them to a local CNCF distribution registry, then scans each
one as the pipeline does: the pinned syft from a stand-in of its image, no network, the
variant's root filesystem mounted (``tests/support/syft.py``). Each run is one scan per
variant, timed from the container's start to its document read back; the statement is
what the release stores (normalised, canonical JSON), so its size is what a release
uploads once per variant.

    .venv/bin/python bench/sbom_bench.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from assemble_bench import machine
from support.bases import build_app_image, ensure_base_images
from support.containers import create_containers_env
from support.images import push
from support.registry import start_registry
from support.syft import SyftScanner, push_scanner_image

from metrics_api.oci.release.provenance import BaseImage
from metrics_api.oci.release.sbom import Scan, normalised_document, sbom_statement

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = (("linux/amd64", "app-amd64"), ("linux/arm64", "app-arm64"))


def main() -> None:
    """Build, push, scan each variant ``--runs`` times; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="sbom-bench-") as work:
        containers = create_containers_env(Path(work))
        registry = start_registry()
        try:
            ensure_base_images(containers)
            image = push_scanner_image(containers, registry)
            scanner = SyftScanner(containers, image, version="v2.0.0")
            pinned = BaseImage(uri=image.ref, digest=image.digest)
            for platform, folder in VARIANTS:
                tag = f"localhost/metrics-api:bench-{folder}"
                build_app_image(containers, ROOT / folder, platform, tag, {"VERSION": "2.0.0"})
                digest = push(containers, tag, registry.ref("metrics-api", folder))
                ref = registry.ref("metrics-api", digest)
                scanner.scan(ref)  # warm-up: the image and scanner in podman's store
                seconds, statement = [], b""
                for _ in range(args.runs):
                    started = time.perf_counter()
                    document = scanner.scan(ref)
                    seconds.append(time.perf_counter() - started)
                    scan = Scan(document, pinned)
                    normalised = normalised_document(scan, digest, None, platform)
                    name = f"pkg:docker/metrics-api@{folder}"
                    statement = sbom_statement(digest, name, normalised)
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
            registry.close()
            containers.cleanup()


if __name__ == "__main__":
    main()
