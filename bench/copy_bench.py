"""Copy an image with one large layer across two registries: ours against crane and skopeo.

The job: an image whose one layer is ``--layer-mib`` MiB of random bytes (a tar of one
file) lives on registry A; make it present on registry B. Ours is the command line as CI
runs it (``python -m metrics_api.oci assemble B/REPO:TAG --variant linux/amd64=A/...@DIGEST``:
the child is copied, then an index is pushed, verified and tagged); the peers copy the
image itself (``crane copy``, ``skopeo copy --preserve-digests``). Both registries are
CNCF distribution started as the tests start them, on loopback; every run copies into a
fresh repository, so every run moves the whole layer. Runs are interleaved (ours, crane,
skopeo, ours, ...), after one warm-up round that is not counted.

Every run copies into a registry B of its own, started empty: the peers keep caches of where
they saw a blob (skopeo's blob-info cache), and on a B that already holds the layer in any
repository they would mount it instead of copying it.

Measured per run: wall time; CPU time of the tool's process (user + system: on a shared
machine the steadier figure); peak RSS of the tool's process, as GNU time reports it (the
``wait4`` rusage ``ru_maxrss`` of a process it forks: a child forked by this large Python
process would inherit its resident set in that figure); bytes moved, counted by the kernel
(nftables counters on the loopback traffic to and from both registries' ports, headers
included; ``n/a`` where nftables cannot be used). The table shows medians.

    python bench/copy_bench.py [--runs 5] [--layer-mib 512]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.docker29 import (
    OCI_CONFIG,
    OCI_MANIFEST,
    descriptor,
    get_manifest,
    json_bytes,
    push_blob,
    put_manifest,
    sha256_digest,
)
from support.go_tools import CRANE, require_go_tool
from support.proc import require_tool
from support.registry import Registry, start_registry

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

MIB = 1024 * 1024
SOURCE_REPOSITORY = "bench/large"
RUN_TIMEOUT = 900.0
NFT_TABLE = "metrics_api_copy_bench"
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"


@dataclass
class Sample:
    """One tool's runs."""

    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)
    peak_rss_kib: list[int] = field(default_factory=list)
    moved_bytes: list[int | None] = field(default_factory=list)


@dataclass(frozen=True)
class Job:
    """The source image on A, and the registry B of this run."""

    source: Registry
    target: Registry
    manifest: str  # digest of the image manifest on A
    layer: str
    layer_size: int


def large_image(registry: Registry, layer_mib: int) -> tuple[str, str, int]:
    """Push an image with one layer of random bytes; its manifest digest, layer digest, size."""
    payload = os.urandom(layer_mib * MIB)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("random.bin")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    del payload
    layer = buffer.getvalue()
    del buffer
    layer_digest = push_blob(registry.host, SOURCE_REPOSITORY, layer)
    config = json_bytes(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        }
    )
    push_blob(registry.host, SOURCE_REPOSITORY, config)
    manifest = json_bytes(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, config),
            "layers": [descriptor(LAYER_TAR, layer)],
        }
    )
    digest = put_manifest(
        registry.host, SOURCE_REPOSITORY, sha256_digest(manifest), manifest, OCI_MANIFEST
    )
    return digest, layer_digest, len(layer)


def ours(job: Job, repository: str) -> list[str]:
    """Our command line: the variant by digest on A, the release on B."""
    return [
        sys.executable,
        "-m",
        "metrics_api.oci",
        "assemble",
        f"{job.target.host}/{repository}:v1",
        "--variant",
        f"linux/amd64={job.source.host}/{SOURCE_REPOSITORY}@{job.manifest}",
        "--json",
    ]


def crane(binary: str) -> Callable[[Job, str], list[str]]:
    """``crane copy`` of the image by digest."""

    def command(job: Job, repository: str) -> list[str]:
        return [
            binary,
            "copy",
            "--insecure",
            f"{job.source.host}/{SOURCE_REPOSITORY}@{job.manifest}",
            f"{job.target.host}/{repository}:v1",
        ]

    return command


def skopeo(binary: str) -> Callable[[Job, str], list[str]]:
    """``skopeo copy --preserve-digests`` of the image by digest."""

    def command(job: Job, repository: str) -> list[str]:
        return [
            binary,
            "--insecure-policy",
            "copy",
            "--quiet",
            "--preserve-digests",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            f"docker://{job.source.host}/{SOURCE_REPOSITORY}@{job.manifest}",
            f"docker://{job.target.host}/{repository}:v1",
        ]

    return command


class Counters:
    """nftables byte counters on the loopback traffic of the two registries' ports."""

    def __init__(self, ports: Sequence[int]) -> None:
        """Create the table; ``available`` is False (and the reason kept) when it cannot."""
        self.ports = list(ports)
        self.reason = ""
        rules = "\n".join(
            f"add rule inet {NFT_TABLE} out tcp {side} {port} counter"
            for port in self.ports
            for side in ("dport", "sport")
        )
        script = (
            f"add table inet {NFT_TABLE}\n"
            f"add chain inet {NFT_TABLE} out {{ type filter hook output priority 0; }}\n{rules}\n"
        )
        nft = shutil.which("nft") or "/usr/sbin/nft"
        self._nft = nft
        try:
            done = subprocess.run(
                [nft, "-f", "-"], input=script, capture_output=True, text=True, check=False
            )
        except OSError as error:
            self.reason = str(error)
            return
        if done.returncode != 0:
            self.reason = done.stderr.strip()

    @property
    def available(self) -> bool:
        """Whether the counters exist."""
        return not self.reason

    def total(self) -> int | None:
        """Bytes counted so far (every packet to or from either registry)."""
        if not self.available:
            return None
        listed = subprocess.run(
            [self._nft, "-j", "list", "table", "inet", NFT_TABLE],
            capture_output=True,
            text=True,
            check=True,
        )
        total = 0
        for item in json.loads(listed.stdout)["nftables"]:
            for expression in item.get("rule", {}).get("expr", []):
                if "counter" in expression:
                    total += int(expression["counter"]["bytes"])
        return total

    def close(self) -> None:
        """Delete the table."""
        if self.available:
            subprocess.run(
                [self._nft, "delete", "table", "inet", NFT_TABLE], capture_output=True, check=False
            )


def check_run(job: Job, tool: str, repository: str, proc: subprocess.CompletedProcess[str]) -> None:
    """The image is on B, the layer with its size (read with HEAD, never downloaded)."""
    if proc.returncode != 0:
        raise RuntimeError(f"{tool} failed (exit {proc.returncode}): {proc.stderr.strip()}")
    if tool == "ours":
        report = json.loads(proc.stdout)
        if not report["verification"]["ok"] or report["variants"][0]["child_action"] != "copied":
            raise RuntimeError(f"ours did not copy and verify: {report}")
    else:
        served = get_manifest(job.target.host, repository, "v1")
        if served.digest != job.manifest:
            raise RuntimeError(f"{tool} stored {served.digest}, expected {job.manifest}")
    head = subprocess.run(
        [
            "curl",
            "-sfI",
            f"{job.target.url}/v2/{repository}/blobs/{job.layer}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if f"content-length: {job.layer_size}" not in head.stdout.lower():
        raise RuntimeError(f"{tool}: the layer is not on B with its size: {head.stdout}")


def run_one(command: list[str], env: dict[str, str]) -> tuple[float, float, int, str, str, int]:
    """Run a tool under GNU time: wall, CPU (user + system), peak RSS (KiB), output, code."""
    with tempfile.NamedTemporaryFile(mode="r") as peak:
        started = time.perf_counter()
        proc = subprocess.run(
            [require_tool("time", "time"), "-f", "%M %U %S", "-o", peak.name, *command],
            capture_output=True,
            text=True,
            env=env,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        elapsed = time.perf_counter() - started
        kib, user, system = peak.read().strip().splitlines()[-1].split()
    cpu = float(user) + float(system)
    return elapsed, cpu, int(kib), proc.stdout, proc.stderr, proc.returncode


def measure(
    source: Job,
    tools: dict[str, Callable[[Job, str], list[str]]],
    env: dict[str, str],
    runs: int,
) -> tuple[dict[str, Sample], str]:
    """Interleaved runs of every tool (one warm-up round, not counted), each to a fresh B."""
    samples = {name: Sample() for name in tools}
    reason = ""
    for run in range(runs + 1):
        for name, command in tools.items():
            repository = f"bench/copy-{name}"
            with start_registry() as target:
                job = Job(source.source, target, source.manifest, source.layer, source.layer_size)
                counters = Counters([source.source.port, target.port])
                try:
                    elapsed, cpu, peak, out, err, code = run_one(command(job, repository), env)
                    moved = counters.total()
                finally:
                    counters.close()
                reason = counters.reason
                check_run(
                    job, name, repository, subprocess.CompletedProcess([name], code, out, err)
                )
            if run:
                samples[name].seconds.append(elapsed)
                samples[name].cpu_seconds.append(cpu)
                samples[name].peak_rss_kib.append(peak)
                samples[name].moved_bytes.append(moved)
            label = "warm-up" if not run else f"run {run}"
            print(
                f"  {label} {name}: {elapsed:.2f} s, CPU {cpu:.2f} s, {peak / 1024:.0f} MiB",
                flush=True,
            )
    return samples, reason


def table(samples: dict[str, Sample], layer_size: int) -> tuple[str, list[str]]:
    """The figures as a markdown table, and the verdicts against the targets."""
    header = [
        "tool",
        "median wall",
        "min wall",
        "CPU (user+sys)",
        "bytes moved",
        "peak RSS",
        "vs fastest peer",
    ]
    peers = [statistics.median(s.seconds) for name, s in samples.items() if name != "ours"]
    fastest = min(peers, default=None)
    rows = []
    for name, sample in samples.items():
        wall = statistics.median(sample.seconds)
        moved = [m for m in sample.moved_bytes if m is not None]
        shown = (
            f"{statistics.median(moved) / MIB:.0f} MiB "
            f"({statistics.median(moved) / layer_size:.2f}x the layer)"
            if moved
            else "n/a"
        )
        rows.append(
            [
                name,
                f"{wall:.2f} s",
                f"{min(sample.seconds):.2f} s",
                f"{statistics.median(sample.cpu_seconds):.2f} s",
                shown,
                f"{statistics.median(sample.peak_rss_kib) / 1024:.0f} MiB",
                f"{wall / fastest:.2f}x" if fastest else "n/a",
            ]
        )
    markdown = "\n".join(
        [
            "| " + " | ".join(header) + " |",
            "|" + "|".join("---" for _ in header) + "|",
            *("| " + " | ".join(row) + " |" for row in rows),
        ]
    )
    verdicts = []
    if "ours" in samples and fastest:
        ours_wall = statistics.median(samples["ours"].seconds)
        ours_rss = max(samples["ours"].peak_rss_kib) / 1024
        verdicts.append(
            f"wall: ours {ours_wall:.2f} s = {ours_wall / fastest:.2f}x the fastest peer "
            f"(target: at most 1.2x) -> {'met' if ours_wall <= 1.2 * fastest else 'MISSED'}"
        )
        verdicts.append(
            f"peak RSS: ours at most {ours_rss:.0f} MiB (target: below 100 MiB) -> "
            f"{'met' if ours_rss < 100 else 'MISSED'}"  # noqa: PLR2004
        )
    return markdown, verdicts


def condition() -> str:
    """The machine's condition: cores and load averages."""
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"nproc {os.cpu_count()}, load average {load}"


def main(argv: Sequence[str] | None = None) -> int:
    """Set up, measure, print the table; stop everything we started."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--runs", type=int, default=5, help="measured runs per tool")
    parser.add_argument("--layer-mib", type=int, default=512, help="size of the random layer")
    parser.add_argument(
        "--cache-dir", type=Path, default=Path("/var/cache/metrics-api-bench"), help="bytecode"
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tools: dict[str, Callable[[Job, str], list[str]]] = {
        "ours": ours,
        "crane": crane(require_go_tool(CRANE)),
        "skopeo": skopeo(require_tool("skopeo")),
    }
    versions = subprocess.run(
        [require_tool("skopeo"), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    print(f"peers: crane {CRANE.version}, {versions}")
    home = Path(tempfile.mkdtemp(prefix="metrics-api-copy-bench-home-"))
    env = {
        **os.environ,
        "HOME": str(home),
        "DOCKER_CONFIG": str(home / ".docker"),
        "PYTHONPYCACHEPREFIX": str(args.cache_dir / "pycache"),
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    start = condition()
    source = start_registry()
    try:
        manifest, layer, size = large_image(source, args.layer_mib)
        print(f"source image {manifest}: one layer of {size / MIB:.1f} MiB")
        samples, reason = measure(Job(source, source, manifest, layer, size), tools, env, args.runs)
    finally:
        source.close()
        shutil.rmtree(home, ignore_errors=True)
    if reason:
        print(f"bytes moved: n/a (nftables: {reason})")
    markdown, verdicts = table(samples, size)
    print()
    print(markdown)
    print()
    print(
        f"Median of {args.runs} runs each, interleaved, after one warm-up round; "
        f"{args.layer_mib} MiB random layer; distribution 2.8 to distribution 2.8 on loopback."
    )
    print(f"machine at start: {start}; at end: {condition()}")
    print("\n".join(verdicts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
