"""Assemble a two-platform index by digest: our CLI against crane and regctl, side by side.

The job: amd64 pushed as a flat OCI image, arm64 pushed as Docker 29 does (an index that
wraps the image and an attestation); make one multi-platform index of the two images and
push it under a new tag. Ours also pushes by digest, verifies, then tags.

Every tool talks to the same real registry through the fault proxy of the tests, which
counts the requests and adds latency: ``loopback`` (0 ms) and ``+50 ms`` (50 ms per HTTP
round trip: 25 ms before forwarding, 25 ms before answering, and 50 ms more for the first
request on each new connection, as a TCP handshake would cost). Runs are interleaved
(ours, crane, regctl, ours, ...) so machine noise hits every tool alike; every run uses
a fresh tag, so every run does the whole job.

    python bench/assemble_bench.py [--runs 10] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.containers import create_containers_env
from support.docker29 import get_manifest, wrap_docker29
from support.faultproxy import FaultProxy, Scenario, start_proxy
from support.images import build_tiny_image, push
from support.registry import Registry, start_registry

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from support.faultproxy import Entry

# Peers, pinned; `go install` of a published module version (the Go module proxy).
PEERS: dict[str, tuple[str, str]] = {
    "crane": ("github.com/google/go-containerregistry/cmd/crane", "v0.22.1"),
    "regctl": ("github.com/regclient/regclient/cmd/regctl", "v0.11.7"),
}
INSTALL_TIMEOUT = 900.0
RUN_TIMEOUT = 60.0
REPOSITORY = "bench/metrics-api"

# The job at minimum (reasoned, not measured). Requests: resolve amd64 = manifest GET +
# config GET (the platform lives in the config); arm64 = index GET + image manifest GET +
# config GET; the children are already in the target repository (0); then one PUT.
# Round trips on the critical path: the arm64 chain (3) + the PUT (1).
JOB_MIN = (6, 4)
# Ours, published safely: + a HEAD of the release tag (refuse to move it; concurrent with
# resolving), the index PUT by digest, its read-back GET (verification), the tag PUT.
# Critical path: 3 (arm64 chain) + PUT by digest + read-back + tag PUT = 6.
SAFE_MIN = (9, 6)


@dataclass
class Sample:
    """One tool in one condition: a wall time, requests and round trips per run."""

    seconds: list[float] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    round_trips: list[int] = field(default_factory=list)

    def median(self) -> tuple[float, float, float]:
        """Median seconds, requests and round trips."""
        return (
            statistics.median(self.seconds),
            statistics.median(self.requests),
            statistics.median(self.round_trips),
        )


@dataclass(frozen=True)
class Job:
    """What the tools work on: the registry behind the proxy, and the pushed variants."""

    registry: Registry
    proxy: FaultProxy
    amd64: str  # image manifest digest, pushed flat under :amd64
    arm64: str  # image manifest digest inside the Docker-29-style index under :arm64
    home: Path  # HOME/DOCKER_CONFIG of the peers (regctl keeps its config there)

    def ref(self, tag_or_digest: str) -> str:
        """``PROXY/bench/metrics-api:tag`` (or ``@digest``), through the proxy."""
        return self.proxy.ref(REPOSITORY, tag_or_digest)


def round_trips(log: Sequence[Entry]) -> int:
    """The longest chain of requests each sent after the one before it was answered."""
    entries = sorted(log, key=lambda entry: entry.started)
    depth: list[int] = []
    for position, entry in enumerate(entries):
        earlier = [depth[i] for i in range(position) if entries[i].ended <= entry.started]
        depth.append(1 + max(earlier, default=0))
    return max(depth, default=0)


def installed_version(binary: Path) -> str | None:
    """The module version ``go version -m`` reads from a Go binary, if any."""
    if not binary.is_file() or shutil.which("go") is None:
        return None
    info = subprocess.run(
        ["go", "version", "-m", str(binary)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    for line in info.stdout.splitlines():
        fields = line.split()
        if fields[:1] == ["mod"] and len(fields) >= 3:  # noqa: PLR2004
            return fields[2]
    return None


def install_peer(name: str, bin_dir: Path) -> Path | str:
    """The peer's binary at its pinned version (``go install`` if needed), or why not."""
    module, version = PEERS[name]
    binary = bin_dir / name
    if installed_version(binary) == version:
        return binary
    if shutil.which("go") is None:
        return "no `go` on PATH (install Go 1.22+ to fetch it from the Go module proxy)"
    bin_dir.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            ["go", "install", f"{module}@{version}"],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            env={**os.environ, "GOBIN": str(bin_dir)},
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"`go install {module}@{version}` took over {INSTALL_TIMEOUT:g} s"
    if done.returncode != 0 or installed_version(binary) != version:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return f"`go install {module}@{version}` failed: {' | '.join(tail)}"
    return binary


def push_variants(registry: Registry) -> tuple[str, str]:
    """amd64 flat (OCI), arm64 as Docker 29 pushes it; their image manifest digests."""
    containers = create_containers_env()
    try:
        build_tiny_image(containers, "bench-amd64", "amd64")
        build_tiny_image(containers, "bench-arm64", "arm64", variant="v8")
        amd64 = push(containers, "bench-amd64", registry.ref(REPOSITORY, "amd64"))
        arm64 = push(
            containers, "bench-arm64", registry.ref(REPOSITORY, "arm64-image"), format="docker"
        )
    finally:
        containers.cleanup()
    wrapped = wrap_docker29(registry.host, REPOSITORY, arm64, "arm64")
    if wrapped.image_digest != arm64:
        raise AssertionError(f"the Docker-29 wrap holds {wrapped.image_digest}, not {arm64}")
    return amd64, arm64


def ours(job: Job, tag: str) -> list[str]:
    """Our CLI: variants by tag (it unwraps the Docker-29 index itself)."""
    return [
        sys.executable,
        "-m",
        "metrics_api.oci",
        "assemble",
        job.ref(tag),
        "--variant",
        f"linux/amd64={job.ref('amd64')}",
        "--variant",
        f"linux/arm64={job.ref('arm64')}",
        "--json",
    ]


def crane(binary: Path) -> Callable[[Job, str], list[str]]:
    """crane: image digests (given the arm64 index it would also add the attestation)."""

    def command(job: Job, tag: str) -> list[str]:
        return [
            str(binary),
            "index",
            "append",
            "--insecure",
            "-m",
            job.ref(job.amd64),
            "-m",
            job.ref(job.arm64),
            "-t",
            job.ref(tag),
        ]

    return command


def regctl(binary: Path) -> Callable[[Job, str], list[str]]:
    """regctl: tags plus --platform (it picks the image out of the arm64 index)."""

    def command(job: Job, tag: str) -> list[str]:
        return [
            str(binary),
            "index",
            "create",
            job.ref(tag),
            "--ref",
            job.ref("amd64"),
            "--platform",
            "linux/amd64",
            "--ref",
            job.ref("arm64"),
            "--platform",
            "linux/arm64",
        ]

    return command


def check_run(job: Job, tool: str, tag: str, proc: subprocess.CompletedProcess[str]) -> None:
    """The run did the whole job: the new tag holds an index of exactly the two images."""
    if proc.returncode != 0:
        raise RuntimeError(f"{tool} failed (exit {proc.returncode}): {proc.stderr.strip()}")
    if tool == "ours":
        report = json.loads(proc.stdout)
        if report["tag_action"] != "created" or not report["verification"]["ok"]:
            raise RuntimeError(f"ours did not create and verify {tag}: {report}")
        if report["requests"] != len(job.proxy.log):
            raise RuntimeError(
                f"ours counted {report['requests']} requests, the proxy saw {len(job.proxy.log)}"
            )
    served = get_manifest(job.registry.host, REPOSITORY, tag)  # the registry itself
    digests = sorted(entry["digest"] for entry in served.json()["manifests"])
    if digests != sorted([job.amd64, job.arm64]):
        raise RuntimeError(f"{tool} pushed {tag} with entries {digests}")


def measure(
    job: Job,
    tools: dict[str, Callable[[Job, str], list[str]]],
    env: dict[str, str],
    runs: int,
) -> dict[str, Sample]:
    """Interleaved runs of every tool (one warm-up each, not counted)."""
    samples = {name: Sample() for name in tools}
    for run in range(runs + 1):
        for name, command in tools.items():
            tag = f"{name}-{run}-{uuid.uuid4().hex[:12]}"
            job.proxy.clear_log()
            started = time.perf_counter()
            proc = subprocess.run(
                command(job, tag),
                capture_output=True,
                text=True,
                timeout=RUN_TIMEOUT,
                env=env,
                check=False,
            )
            elapsed = time.perf_counter() - started
            log = job.proxy.log
            check_run(job, name, tag, proc)
            if run:  # run 0 warms caches (page cache, bytecode, registry)
                samples[name].seconds.append(elapsed)
                samples[name].requests.append(len(log))
                samples[name].round_trips.append(round_trips(log))
    return samples


def tables(results: dict[str, dict[str, Sample]], runs: int, latency_ms: int) -> tuple[str, str]:
    """The figures as a plain table and as markdown."""
    header = ["tool", "network", "median wall", "requests", "round trips", "vs fastest peer"]
    rows: list[list[str]] = []
    for condition, samples in results.items():
        peers = [samples[name].median()[0] for name in samples if name != "ours"]
        fastest = min(peers, default=None)
        for name, sample in samples.items():
            seconds, requests, trips = sample.median()
            ratio = f"{seconds / fastest:.2f}x" if fastest else "n/a"
            # On loopback, concurrent requests rarely overlap in time: chains mean nothing.
            shown = "-" if condition == "loopback" else f"{trips:g}"
            rows.append(
                [name, condition, f"{seconds * 1000:.0f} ms", f"{requests:g}", shown, ratio]
            )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    plain = "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in [header, *rows]
    )
    markdown = "\n".join(
        [
            "| " + " | ".join(header) + " |",
            "|" + "|".join("---" for _ in header) + "|",
            *("| " + " | ".join(row) + " |" for row in rows),
            "",
            (
                f"Median of {runs} runs each, interleaved; whole processes (ours includes Python "
                f"start-up); `+{latency_ms} ms` = {latency_ms} ms per HTTP round trip and per new "
                "connection, added by the fault proxy every tool goes through. Round trips: the "
                "longest chain of requests each sent after the previous one was answered."
            ),
        ]
    )
    return plain, markdown


def closeness(results: dict[str, dict[str, Sample]]) -> list[str]:
    """Ours against the minimum the job needs, and the targets."""
    lines = [
        (
            f"minimum for the job: {JOB_MIN[0]} requests, {JOB_MIN[1]} round trips; "
            f"published safely (HEAD tag, PUT by digest, read back, tag): {SAFE_MIN[0]} requests, "
            f"{SAFE_MIN[1]} round trips"
        ),
    ]
    for condition, samples in results.items():
        seconds, requests, trips = samples["ours"].median()
        peers = {name: s.median()[0] for name, s in samples.items() if name != "ours"}
        closest = f"ours {requests:g}/{SAFE_MIN[0]} requests = {requests / SAFE_MIN[0]:.2f}x"
        if condition != "loopback":
            closest += f", {trips:g}/{SAFE_MIN[1]} round trips = {trips / SAFE_MIN[1]:.2f}x"
        lines.append(f"{condition}: {closest} the safe minimum")
        if peers:
            name, fastest = min(peers.items(), key=lambda item: item[1])
            lines.append(
                f"{condition}: ours {seconds * 1000:.0f} ms vs fastest peer {name} "
                f"{fastest * 1000:.0f} ms = {seconds / fastest:.2f}x"
            )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Set up, measure both conditions, print the tables; stop everything we started."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--runs", type=int, default=10, help="measured runs per tool (>= 10)")
    parser.add_argument("--latency-ms", type=int, default=50, help="added per round trip")
    parser.add_argument(
        "--cache-dir", type=Path, default=Path("/var/cache/metrics-api-bench"), help="peers"
    )
    args = parser.parse_args(argv)
    # Stopped with SIGTERM, still run the finally blocks that stop the registry and proxy.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tools: dict[str, Callable[[Job, str], list[str]]] = {"ours": ours}
    binaries: dict[str, Path] = {}
    for name, make in (("crane", crane), ("regctl", regctl)):
        binary = install_peer(name, args.cache_dir / "bin")
        if isinstance(binary, str):
            print(f"skipping {name} {PEERS[name][1]}: {binary}")
        else:
            print(f"{name} {PEERS[name][1]}: {binary}")
            binaries[name] = binary
            tools[name] = make(binary)
    home = Path(tempfile.mkdtemp(prefix="metrics-api-bench-home-"))
    # Ours as an installed package runs: bytecode cached (this machine may set
    # PYTHONDONTWRITEBYTECODE); the cache lives outside the repository.
    env = {
        **os.environ,
        "HOME": str(home),
        "DOCKER_CONFIG": str(home / ".docker"),
        "PYTHONPYCACHEPREFIX": str(args.cache_dir / "pycache"),
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    registry = start_registry()
    proxy: FaultProxy | None = None
    try:
        amd64, arm64 = push_variants(registry)
        proxy = start_proxy(registry.host)
        job = Job(registry, proxy, amd64, arm64, home)
        if "regctl" in binaries:  # plain HTTP for the proxy, in regctl's config under HOME
            subprocess.run(
                [str(binaries["regctl"]), "registry", "set", proxy.host, "--tls", "disabled"],
                env=env,
                capture_output=True,
                timeout=RUN_TIMEOUT,
                check=True,
            )
        results: dict[str, dict[str, Sample]] = {}
        conditions = (("loopback", 0.0), (f"+{args.latency_ms} ms", args.latency_ms / 1000))
        for condition, latency in conditions:
            proxy.scenario = Scenario(latency=latency)
            results[condition] = measure(job, tools, env, args.runs)
    finally:
        if proxy is not None:
            proxy.stop()
        registry.close()
        shutil.rmtree(home, ignore_errors=True)
    plain, markdown = tables(results, args.runs, args.latency_ms)
    print()
    print(plain)
    print()
    print("\n".join(closeness(results)))
    print()
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
