"""What keyless signing adds to a publish: seconds, requests and bytes, on a local Sigstore.

Starts the tests' Sigstore (Fulcio, TesseraCT, Rekor v2, a timestamp authority and an OIDC
issuer, all on loopback: tests/support/sigstore_stack.py) and CNCF distribution 2.8, then
for each run pushes new tiny images (fresh digests nothing has signed) and publishes them
unsigned, keyless, and keyless again (a re-run: the bundles are found, verified, kept), in
alternating order. A keyless publish of 2 platforms writes 3 bundles (the index and each
image; these images carry no statements). The stack's own start-up is printed too.

    .venv/bin/python bench/keyless_bench.py [--runs 10] [--platforms 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from assemble_bench import machine
from signing_bench import ARCHITECTURES, push_image
from support.keyless import keyless
from support.registry import start_registry
from support.sigstore_stack import start_sigstore_stack

from metrics_api.oci import jobs
from metrics_api.oci.registry.session import Settings, open_client

if TYPE_CHECKING:
    from metrics_api.oci.signing.keyless_store import KeylessSigning

REPOSITORY = "bench/signing"


async def publish(
    host: str, variants: list[str], signing: KeylessSigning | None
) -> tuple[int, float, int]:
    """One assemble + publish + verify to a new tag: requests, CPU seconds, bundle bytes."""
    settings = Settings(insecure_registries=frozenset([host]), use_docker_config=False)
    target = f"{host}/{REPOSITORY}:rel-{uuid.uuid4().hex[:12]}"
    started = time.process_time()
    async with open_client(settings) as client:
        report = await jobs.assemble(
            client, target, jobs.parse_requests(variants, []), keyless=signing
        )
    if report.tag_action != "created" or not report.ok:
        raise RuntimeError(f"the publish of {target} did not create and verify it: {report}")
    stored = sum(": signed keyless by " in line for line in report.signatures)
    found = sum("already signed keyless" in line for line in report.signatures)
    if signing is not None and not (stored == len(report.signatures) or found):
        raise RuntimeError(f"expected all bundles new or all found: {report.signatures}")
    return report.requests, time.process_time() - started, stored


def main(argv: list[str] | None = None) -> int:
    """Measure, then print a table and the machine's condition."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--runs", type=int, default=10, help="measured runs per condition")
    parser.add_argument("--platforms", type=int, default=2, choices=range(1, 9))
    args = parser.parse_args(argv)
    before = machine()
    began = time.perf_counter()
    stack = start_sigstore_stack()
    stack_start = time.perf_counter() - began
    registry = start_registry()
    settings = Settings(insecure_registries=frozenset([registry.host]), use_docker_config=False)
    samples: dict[str, list[tuple[int, float, float, int]]] = {
        "unsigned": [],
        "keyless": [],
        "keyless again": [],
    }
    try:
        for number in range(args.runs + 1):  # round 0 warms up, not counted

            async def fresh() -> list[str]:
                async with open_client(settings) as client:
                    return [
                        f"linux/{arch}=" + await push_image(client, registry.host, arch)
                        for arch in ARCHITECTURES[: args.platforms]
                    ]

            variants = anyio.run(fresh)
            order = ["keyless", "keyless again", "unsigned"]
            if not number % 2:
                order = ["unsigned", "keyless", "keyless again"]
            for name in order:
                signing = keyless(stack) if name.startswith("keyless") else None
                started = time.perf_counter()
                requests, cpu, bundles = anyio.run(publish, registry.host, variants, signing)
                if number:
                    samples[name].append((requests, time.perf_counter() - started, cpu, bundles))
    finally:
        registry.close()
        stack.close()
    header = ["publish", "platforms", "bundles written", "requests", "wall", "CPU"]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for name, measured in samples.items():
        row = [
            name,
            str(args.platforms),
            f"{statistics.median(s[3] for s in measured):g}",
            f"{statistics.median(s[0] for s in measured):g}",
            f"{statistics.median(s[1] for s in measured) * 1000:.0f} ms",
            f"{statistics.median(s[2] for s in measured) * 1000:.0f} ms",
        ]
        print("| " + " | ".join(row) + " |")
    print(f"\nmedian of {args.runs} runs; the Sigstore stack started in {stack_start:.2f} s")
    print(f"machine before: {before}")
    print(f"machine after:  {machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
