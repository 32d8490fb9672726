"""CPU of one registry request: through our transport, through httpx alone, through httpcore.

Pushes one tiny image to CNCF distribution 2.8 on loopback, then sends the same manifest
HEAD (and GET, through ours) many times in a loop, in this process, on one kept-alive
connection. The figure is the process's CPU time per request (``time.process_time``; the
registry is another process). What ours adds over httpx is our transport: the request's
URL, the credentials gate, retries and pacing, the answer's checks.

    .venv/bin/python bench/request_bench.py [--requests 300] [--runs 3]     (as root)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import httpcore
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from assemble_bench import machine, markdown_table
from support.containers import create_containers_env
from support.images import build_tiny_image, push
from support.registry import start_registry

from metrics_api.oci.registry.session import Settings, open_client
from metrics_api.oci.spec import media_types
from metrics_api.oci.spec.reference import Reference, parse_reference

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

ACCEPT = [("Accept", media_types.OCI_MANIFEST)]


async def per_request(send: Callable[[], Awaitable[object]], requests: int) -> float:
    """CPU seconds per call of ``send``, after one call that opens the connection."""
    await send()
    started = time.process_time()
    for _ in range(requests):
        await send()
    return (time.process_time() - started) / requests


async def measure(ref: Reference, requests: int) -> dict[str, float]:
    """Each way of sending the same manifest request, once each."""
    url = f"http://{ref.registry}/v2/{ref.repository}/manifests/{ref.digest}"
    figures: dict[str, float] = {}
    async with open_client(Settings(use_docker_config=False)) as client:
        figures["ours, HEAD"] = await per_request(lambda: client.head_manifest(ref), requests)
        figures["ours, GET"] = await per_request(lambda: client.get_manifest(ref), requests)
    async with httpx.AsyncClient() as http:
        figures["httpx, HEAD"] = await per_request(lambda: http.head(url, headers=ACCEPT), requests)
    async with httpcore.AsyncConnectionPool() as pool:
        figures["httpcore, HEAD"] = await per_request(
            lambda: pool.request("HEAD", url, headers=ACCEPT), requests
        )
    return figures


def main() -> int:
    """Set up, measure ``--runs`` times, print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--requests", type=int, default=300, help="requests per measure")
    parser.add_argument("--runs", type=int, default=3, help="measures of each way")
    args = parser.parse_args()
    print(f"machine before: {machine()}")
    registry = start_registry()
    containers = create_containers_env()
    try:
        image = build_tiny_image(containers, "bench-request", "amd64")
        digest = push(containers, image, registry.ref("bench/request", "v1"))
        ref = parse_reference(f"{registry.host}/bench/request@{digest}")
        runs = [anyio.run(measure, ref, args.requests) for _ in range(args.runs)]
    finally:
        containers.cleanup()
        registry.close()
    rows = [[way, f"{statistics.median(run[way] for run in runs) * 1e6:.0f} µs"] for way in runs[0]]
    print(markdown_table(["request", f"CPU per request (median of {args.runs})"], rows))
    print(f"machine after:  {machine()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
