"""What signing adds to a publish: requests, round trips, wall and CPU time, fresh digests.

Every run pushes new tiny images (random layer bytes, so new digests nothing has signed),
then publishes them (assemble, push by digest, verify, tag) unsigned and signed with a P-256
key, in alternating order, then signed again: each to a new tag, in this process. The
difference between the first two is what signing costs when it writes one signature per
image and for the index (images with provenance also get their statements attested; these
carry none); "signed again" is a re-run, which finds its signatures and only reads them.
Registry and latency as in assemble_bench.py: CNCF distribution 2.8 behind the fault
proxy, loopback and +50 ms per round trip.

    .venv/bin/python bench/signing_bench.py [--runs 10] [--platforms 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
from cryptography.hazmat.primitives.asymmetric import ec

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from assemble_bench import machine, markdown_table, round_trips
from support.faultproxy import Scenario, start_proxy
from support.registry import start_registry

from metrics_api.oci import inputs, jobs
from metrics_api.oci.registry.session import Settings, open_client
from metrics_api.oci.signing.keys import SigningKey
from metrics_api.oci.spec import media_types
from metrics_api.oci.spec.reference import parse_reference

if TYPE_CHECKING:
    from metrics_api.oci.registry.client import RegistryClient
    from metrics_api.oci.release.reports import AssembleReport
    from metrics_api.oci.signing.keyless_store import KeylessSigning

REPOSITORY = "bench/signing"
ARCHITECTURES = ("amd64", "arm64", "ppc64le", "s390x", "386", "riscv64", "mips64le", "loong64")


async def push_image(client: RegistryClient, host: str, architecture: str) -> str:
    """A tiny image with a layer nothing else has; the tag it was pushed under."""
    ref = parse_reference(f"{host}/{REPOSITORY}:img-{uuid.uuid4().hex[:12]}")
    layer = os.urandom(64)
    layer_digest = await client.put_blob(ref, layer)
    config = json.dumps(
        {
            "architecture": architecture,
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        }
    ).encode()
    config_digest = await client.put_blob(ref, config)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": media_types.OCI_MANIFEST,
            "config": {
                "mediaType": media_types.OCI_CONFIG,
                "digest": config_digest,
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer_digest,
                    "size": len(layer),
                }
            ],
        }
    ).encode()
    await client.put_manifest(ref, manifest, media_types.OCI_MANIFEST)
    return str(ref)


async def timed_assemble(
    host: str,
    variants: list[str],
    *,
    signer: SigningKey | None = None,
    keyless: KeylessSigning | None = None,
) -> tuple[AssembleReport, float]:
    """One assemble + publish + verify to a new tag: its report and CPU seconds."""
    settings = Settings(insecure_registries=frozenset([host]), use_docker_config=False)
    target = f"{host}/{REPOSITORY}:rel-{uuid.uuid4().hex[:12]}"
    started = time.process_time()
    async with open_client(settings) as client:
        requests = inputs.parse_requests(variants, [], ("--variant", "--expect"))
        report = await jobs.assemble(client, target, requests, signer=signer, keyless=keyless)
    if report.tag_action != "created" or not report.ok:
        raise RuntimeError(f"the publish of {target} did not create and verify it: {report}")
    return report, time.process_time() - started


async def fresh_variants(host: str, platforms: int) -> list[str]:
    """New tiny images for the first ``platforms`` architectures, as PLATFORM=REF."""
    settings = Settings(insecure_registries=frozenset([host]), use_docker_config=False)
    async with open_client(settings) as client:
        return [
            f"linux/{arch}=" + await push_image(client, host, arch)
            for arch in ARCHITECTURES[:platforms]
        ]


async def publish(host: str, variants: list[str], signer: SigningKey | None) -> tuple[int, float]:
    """One signed or unsigned publish: its requests and CPU seconds."""
    report, cpu = await timed_assemble(host, variants, signer=signer)
    if signer is not None:
        # The first signed publish of fresh images writes every signature, the next none.
        fresh = all(" signed by key " in s for s in report.signatures)
        found = all("already signed by key" in s for s in report.signatures)
        if not (fresh or found):
            raise RuntimeError(f"expected all signatures new or all found: {report.signatures}")
    return report.requests, cpu


def main(argv: list[str] | None = None) -> int:
    """Measure, then print a table and the machine's condition."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--runs", type=int, default=10, help="measured runs per condition")
    parser.add_argument("--platforms", type=int, default=2, choices=range(1, 9))
    args = parser.parse_args(argv)
    key = SigningKey(ec.generate_private_key(ec.SECP256R1()))
    before = machine()
    registry = start_registry()
    proxy = start_proxy(registry.host)
    rows = []
    try:
        for network, latency in (("loopback", 0.0), ("+50 ms", 0.05)):
            samples: dict[str, list[tuple[int, int, float, float]]] = {
                "unsigned": [],
                "signed": [],
                "signed again": [],
            }
            for number in range(args.runs + 1):  # round 0 warms up, not counted
                proxy.scenario = Scenario()

                variants = anyio.run(fresh_variants, registry.host, args.platforms)
                proxied = [v.replace(registry.host, proxy.host) for v in variants]
                proxy.scenario = Scenario(latency=latency)
                order = ["signed", "signed again", "unsigned"]
                if not number % 2:
                    order = ["unsigned", "signed", "signed again"]
                for name in order:
                    proxy.clear_log()
                    signer = key if name.startswith("signed") else None
                    started = time.perf_counter()
                    requests, cpu = anyio.run(publish, proxy.host, proxied, signer)
                    wall = time.perf_counter() - started
                    if number:
                        samples[name].append((requests, round_trips(proxy.log), wall, cpu))
            for name, measured in samples.items():
                rows.append(
                    [
                        name,
                        network,
                        str(args.platforms),
                        f"{statistics.median(s[0] for s in measured):g}",
                        "-" if not latency else f"{statistics.median(s[1] for s in measured):g}",
                        f"{statistics.median(s[2] for s in measured) * 1000:.0f} ms",
                        f"{statistics.median(s[3] for s in measured) * 1000:.0f} ms",
                    ]
                )
    finally:
        proxy.stop()
        registry.close()
    header = ["publish", "network", "platforms", "requests", "round trips", "wall", "CPU"]
    print(markdown_table(header, rows))
    print(f"\nmedian of {args.runs} runs; machine before: {before}")
    print(f"machine after:  {machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
