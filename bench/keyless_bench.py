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
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from assemble_bench import machine, markdown_table
from signing_bench import fresh_variants, timed_assemble
from support.keyless import keyless
from support.registry import start_registry
from support.sigstore_stack import start_sigstore_stack

if TYPE_CHECKING:
    from metrics_api.oci.signing.keyless_store import KeylessSigning


async def publish(
    host: str, variants: list[str], signing: KeylessSigning | None
) -> tuple[int, float, int]:
    """One keyless or unsigned publish: requests, CPU seconds, bundles written."""
    report, cpu = await timed_assemble(host, variants, keyless=signing)
    stored = sum(": signed keyless by " in line for line in report.signatures)
    found = sum("already signed keyless" in line for line in report.signatures)
    if signing is not None and not (stored == len(report.signatures) or found):
        raise RuntimeError(f"expected all bundles new or all found: {report.signatures}")
    return report.requests, cpu, stored


def main(argv: list[str] | None = None) -> int:
    """Measure, then print a table and the machine's condition."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--runs", type=int, default=10, help="measured runs per condition")
    parser.add_argument("--platforms", type=int, default=2, choices=range(1, 9))
    args = parser.parse_args(argv)
    before = machine()
    stack = start_sigstore_stack()
    registry = start_registry()
    signing = keyless(stack)
    samples: dict[str, list[tuple[int, float, float, int]]] = {
        "unsigned": [],
        "keyless": [],
        "keyless again": [],
    }
    try:
        for number in range(args.runs + 1):  # round 0 warms up, not counted
            variants = anyio.run(fresh_variants, registry.host, args.platforms)
            order = ["keyless", "keyless again", "unsigned"]
            if not number % 2:
                order = ["unsigned", "keyless", "keyless again"]
            for name in order:
                given = signing if name.startswith("keyless") else None
                started = time.perf_counter()
                requests, cpu, bundles = anyio.run(publish, registry.host, variants, given)
                if number:
                    samples[name].append((requests, time.perf_counter() - started, cpu, bundles))
    finally:
        registry.close()
        stack.close()
    header = ["publish", "platforms", "bundles written", "requests", "wall", "CPU"]
    rows = [
        [
            name,
            str(args.platforms),
            f"{statistics.median(s[3] for s in measured):g}",
            f"{statistics.median(s[0] for s in measured):g}",
            f"{statistics.median(s[1] for s in measured) * 1000:.0f} ms",
            f"{statistics.median(s[2] for s in measured) * 1000:.0f} ms",
        ]
        for name, measured in samples.items()
    ]
    print(markdown_table(header, rows))
    print(
        f"\nmedian of {args.runs} runs; the Sigstore stack started in {stack.startup_seconds:.2f} s"
    )
    print(f"machine before: {before}")
    print(f"machine after:  {machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
