"""What --source-date-epoch adds to a release: seconds and bytes re-uploaded per variant.

Builds both real variants once (buildah, the e2e stand-ins of the base images), pushes
each with its base to CNCF distribution 2.8 on loopback, then normalises each to an epoch
of yesterday (every time the build wrote is later) as a release does in its staging
registry: reading the image, rewriting the layers the build added, uploading them, the
config and the manifest (the registry already holding a blob skips its upload; the
figure counts what a first release sends). Each run normalises the pushed image anew.

    .venv/bin/python bench/normalise_bench.py [--runs 5]       (as root)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from typing import TYPE_CHECKING

from assemble_bench import machine, markdown_table
from support.bases import PYTHON_IMAGE, RUNTIME_IMAGE, build_app_image, ensure_base_images
from support.containers import create_containers_env
from support.images import push
from support.registry import start_registry

from metrics_api.oci import Settings
from metrics_api.oci.registry.session import open_client
from metrics_api.oci.release.reproducible import make_reproducible
from metrics_api.oci.spec.platform import parse_platform
from metrics_api.oci.spec.reference import parse_reference

if TYPE_CHECKING:
    from metrics_api.oci.release.normalise import Normalised

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = (("linux/amd64", "app-amd64", RUNTIME_IMAGE), ("linux/arm64", "app-arm64", PYTHON_IMAGE))
EPOCH = int(time.time()) - 86_400


async def normalise(host: str, image: str, base: str, platform: str) -> tuple[Normalised, float]:
    """Normalise one pushed image; what it did and its wall time."""
    settings = Settings(insecure_registries=frozenset([host]), use_docker_config=False)
    started = time.perf_counter()
    async with open_client(settings) as client:
        ref = parse_reference(f"{host}/bench/normalise@{image}")
        base_ref = parse_reference(f"{host}/bench/normalise:{base}")
        done = await make_reproducible(
            client,
            EPOCH,
            staged=ref,
            base=base_ref,
            platform=parse_platform(platform),
            what=platform,
        )
    return done, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    """Build, push and normalise; print a table and the machine's condition."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--runs", type=int, default=5, help="measured runs per variant")
    args = parser.parse_args(argv)
    before = machine()
    containers = create_containers_env()
    registry = start_registry()
    rows = []
    try:
        ensure_base_images(containers)
        for platform, folder, base in VARIANTS:
            arch = platform.rsplit("/", 1)[1]
            tag = f"localhost/normalise-bench:{arch}"
            build_app_image(containers, ROOT / folder, platform, tag, {"VERSION": "2.0.0"})
            push(containers, base, f"{registry.host}/bench/normalise:base-{arch}")
            samples = []
            for number in range(args.runs):
                pushed = push(containers, tag, f"{registry.host}/bench/normalise:{arch}-{number}")
                samples.append(
                    anyio.run(normalise, registry.host, pushed, f"base-{arch}", platform)
                )
            done = samples[-1][0]
            rows.append(
                [
                    platform,
                    f"{done.kept} kept, {len(done.layers)} rewritten",
                    f"{statistics.median(s[0].uploaded for s in samples):,} B",
                    f"{statistics.median(s[1] for s in samples) * 1000:.0f} ms",
                ]
            )
    finally:
        registry.close()
        containers.cleanup()
    header = ["variant", "layers", "uploaded", "wall"]
    print(markdown_table(header, rows))
    print(f"\nmedian of {args.runs} runs; machine before: {before}")
    print(f"machine after:  {machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
