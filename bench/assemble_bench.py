"""Assemble a multi-platform index by digest: our CLI against crane and regctl, side by side.

The job: variants pushed by digest, every other one as Docker 29 pushes it (an index that
wraps the image and an attestation); make one multi-platform index of the images and
push it under a new tag. Ours also pushes by digest, verifies, then tags, with the tag
protections (the tag looked at before anything is written and right before its PUT, and
read back after it).

Every tool talks to the same real registry through the fault proxy of the tests, which
counts the requests and adds latency: ``loopback`` (0 ms) and ``+50 ms`` (50 ms per HTTP
round trip: 25 ms before forwarding, 25 ms before answering, and 50 ms more for the first
request on each new connection, as a TCP handshake would cost). The job runs with 2
platforms on loopback, and with 2, 4 and 8 platforms at +50 ms. Runs are interleaved
(each condition in turn, and in it ours, crane, regctl; then again) so machine noise hits
every figure alike; every run uses a fresh tag, so every run does the whole job. Each run
is one process: its wall time, its CPU time (user + sys, from the kernel's accounting of
the finished child) and the requests the proxy saw. Then the CPU our imports cost,
beside our dependencies'.

    python bench/assemble_bench.py [--runs 10] [--latency-ms 50] [--cache-dir DIR]

From a fresh clone, ``bash scripts/bench.sh`` sets up (.venv, Debian packages) and runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
from support.go_tools import go_binary
from support.images import build_tiny_image, push
from support.proc import ToolMissingError
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

# The platforms, in the order the job takes them: (declared platform, how it is pushed).
# Flat: one OCI image manifest. Docker 29: an index wrapping the image and an attestation.
PLATFORMS: tuple[tuple[str, bool], ...] = (
    ("linux/amd64", False),
    ("linux/arm64", True),
    ("linux/arm/v7", False),
    ("linux/ppc64le", True),
    ("linux/s390x", False),
    ("linux/386", True),
    ("linux/riscv64", False),
    ("linux/arm/v6", True),
)
PLATFORM_COUNTS = (2, 4, 8)  # at +latency; loopback runs the first two

# Targets (figures, not tests): issue 29 tightened issue 14's 400 ms of CPU and 1x.
OWN_IMPORT_TARGET = 0.050  # s of CPU our modules cost beyond the dependencies they import
JOB_CPU_TARGET = 0.25  # s of CPU of one whole assemble process on loopback
PEER_RATIO_TARGET = 0.80  # our whole safe job's wall time over the fastest peer's bare one
GROWTH_TARGET = 0.15  # our wall time from 2 to 8 platforms at +latency


@dataclass(frozen=True)
class Variant:
    """One pushed platform image."""

    platform: str  # as declared: linux/arm/v7
    tag: str  # what ours and regctl are given (a Docker 29 index for wrapped variants)
    digest: str  # the image manifest's digest (what crane is given; what the index holds)
    wrapped: bool  # pushed as Docker 29 does


def job_minimum(variants: Sequence[Variant]) -> tuple[int, int]:
    """Requests and round trips the bare job needs at minimum (reasoned, not measured).

    Requests: a flat variant is its manifest GET + its config GET (the platform lives in
    the config); a Docker 29 one is the index GET + the image manifest GET + the config
    GET; the images are already in the target repository (0); then one PUT of the index
    under the tag. Round trips: the longest of those chains (3 with a Docker 29 variant,
    else 2) + the PUT; the number of platforms adds none (each chain runs concurrently).
    """
    wrapped = sum(variant.wrapped for variant in variants)
    flat = len(variants) - wrapped
    return 2 * flat + 3 * wrapped + 1, (3 if wrapped else 2) + 1


def safe_minimum(variants: Sequence[Variant]) -> tuple[int, int]:
    """Requests and round trips of the job published safely (``publish.publish_index``).

    The bare job's one PUT becomes the index PUT by digest, and beyond it: the release tag
    looked at (HEAD) while the variants resolve, so a tag that would move is refused
    before anything is written; each image read in the target repository while the index
    is PUT (one GET each: the verification's child checks); the index read back by digest
    (verification) with the tag's last look (HEAD) beside it; the tag PUT; the tag read
    back (HEAD). Requests: the job's + 5 + one per platform. Round trips: the job's + 3
    (read-back with last look; tag PUT; tag read-back); more platforms add none.
    """
    requests, trips = job_minimum(variants)
    return requests + 5 + len(variants), trips + 3


@dataclass
class Sample:
    """One tool in one condition: per run, wall and CPU seconds, requests and round trips."""

    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    round_trips: list[int] = field(default_factory=list)

    @property
    def wall(self) -> float:
        """Median wall seconds."""
        return statistics.median(self.seconds)

    @property
    def cpu_time(self) -> float:
        """Median CPU seconds (user + sys)."""
        return statistics.median(self.cpu)

    @property
    def request_count(self) -> float:
        """Median requests."""
        return statistics.median(self.requests)

    @property
    def trips(self) -> float:
        """Median round trips."""
        return statistics.median(self.round_trips)


@dataclass(frozen=True)
class Condition:
    """Added latency and the number of platforms the job assembles."""

    network: str
    latency: float  # seconds per round trip
    platforms: int


Results = dict[Condition, dict[str, Sample]]


@dataclass(frozen=True)
class Job:
    """What the tools work on: the registry behind the proxy, and the pushed variants."""

    registry: Registry
    proxy: FaultProxy
    variants: tuple[Variant, ...]

    def ref(self, tag_or_digest: str) -> str:
        """``PROXY/bench/metrics-api:tag`` (or ``@digest``), through the proxy."""
        return self.proxy.ref(REPOSITORY, tag_or_digest)


@dataclass(frozen=True)
class Run:
    """One finished process."""

    proc: subprocess.CompletedProcess[str]
    seconds: float
    cpu: float


def run_process(command: Sequence[str], env: dict[str, str]) -> Run:
    """Run ``command``; its wall time and its CPU time (user + sys, as the kernel counted it).

    The CPU time is the growth of RUSAGE_CHILDREN across the run: this process reaps no
    other child meanwhile (the registry runs until the end, the proxy is threads).
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(
        command, capture_output=True, text=True, timeout=RUN_TIMEOUT, env=env, check=False
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(proc, seconds, cpu)


def round_trips(log: Sequence[Entry]) -> int:
    """The longest chain of requests each sent after the one before it was answered."""
    entries = sorted(log, key=lambda entry: entry.started)
    depth: list[int] = []
    for position, entry in enumerate(entries):
        earlier = [depth[i] for i in range(position) if entries[i].ended <= entry.started]
        depth.append(1 + max(earlier, default=0))
    return max(depth, default=0)


def find_go() -> str | None:
    """``go`` from PATH or /usr/local/go, or None."""
    try:
        return go_binary()
    except ToolMissingError:
        return None


def installed_version(binary: Path) -> str | None:
    """The module version ``go version -m`` reads from a Go binary, if any."""
    go = find_go()
    if not binary.is_file() or go is None:
        return None
    info = subprocess.run(
        [go, "version", "-m", str(binary)],
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
    go = find_go()
    if go is None:
        return "no `go` on PATH or in /usr/local/go (install Go 1.24+ to fetch it)"
    bin_dir.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            [go, "install", f"{module}@{version}"],
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


def install_peers(bin_dir: Path) -> dict[str, Path]:
    """Every peer that could be installed; the others are skipped, saying why."""
    binaries: dict[str, Path] = {}
    for name, (_, version) in PEERS.items():
        binary = install_peer(name, bin_dir)
        if isinstance(binary, str):
            print(f"skipping {name} {version}: {binary}")
        else:
            print(f"{name} {version}: {binary}")
            binaries[name] = binary
    return binaries


def push_variants(registry: Registry) -> tuple[Variant, ...]:
    """Every platform of PLATFORMS pushed: flat as OCI, the others as Docker 29 does."""
    containers = create_containers_env()
    variants = []
    try:
        for platform, wrapped in PLATFORMS:
            _, arch, *variant = platform.split("/")
            slug = platform.replace("/", "-")
            image = build_tiny_image(
                containers,
                f"bench-{slug}",
                arch,
                variant=variant[0] if variant else ("v8" if arch == "arm64" else None),
            )
            if not wrapped:
                digest = push(containers, image, registry.ref(REPOSITORY, slug))
                variants.append(Variant(platform, slug, digest, wrapped=False))
                continue
            digest = push(
                containers, image, registry.ref(REPOSITORY, f"{slug}-image"), format="docker"
            )
            wrap = wrap_docker29(registry.host, REPOSITORY, digest, slug)
            if wrap.image_digest != digest:
                raise AssertionError(f"the Docker 29 wrap holds {wrap.image_digest}, not {digest}")
            variants.append(Variant(platform, slug, digest, wrapped=True))
    finally:
        containers.cleanup()
    return tuple(variants)


def ours(job: Job, variants: Sequence[Variant], tag: str) -> list[str]:
    """Our CLI: variants by tag (it unwraps the Docker 29 indexes itself)."""
    command = [sys.executable, "-m", "metrics_api.oci", "assemble", job.ref(tag), "--json"]
    for variant in variants:
        command += ["--variant", f"{variant.platform}={job.ref(variant.tag)}"]
    return command


def crane(binary: Path) -> Callable[[Job, Sequence[Variant], str], list[str]]:
    """crane: image digests (given a Docker 29 index it would also add the attestation)."""

    def command(job: Job, variants: Sequence[Variant], tag: str) -> list[str]:
        images = [arg for variant in variants for arg in ("-m", job.ref(variant.digest))]
        return [str(binary), "index", "append", "--insecure", *images, "-t", job.ref(tag)]

    return command


def regctl(binary: Path) -> Callable[[Job, Sequence[Variant], str], list[str]]:
    """regctl: tags plus --platform (it picks the image out of a Docker 29 index)."""

    def command(job: Job, variants: Sequence[Variant], tag: str) -> list[str]:
        refs = [
            arg
            for variant in variants
            for arg in ("--ref", job.ref(variant.tag), "--platform", variant.platform)
        ]
        return [str(binary), "index", "create", job.ref(tag), *refs]

    return command


PEER_COMMANDS = {"crane": crane, "regctl": regctl}


def check_run(job: Job, tool: str, tag: str, variants: Sequence[Variant], run: Run) -> None:
    """The run did the whole job: the new tag holds an index of exactly the images."""
    proc = run.proc
    if proc.returncode != 0:
        raise RuntimeError(f"{tool} failed (exit {proc.returncode}): {proc.stderr.strip()}")
    if tool == "ours":
        report = json.loads(proc.stdout)
        if report["tag_action"] != "created" or not report["verification"]["ok"]:
            raise RuntimeError(f"ours did not create and verify {tag}: {report}")
        if report["requests"] != len(job.proxy.log):
            raise RuntimeError(
                f"ours counted {report['requests']} requests, the proxy saw {len(job.proxy.log)}: "
                + "; ".join(f"{e.method} {e.path} {e.status}" for e in job.proxy.log)
            )
    served = get_manifest(job.registry.host, REPOSITORY, tag)  # the registry itself
    digests = sorted(entry["digest"] for entry in served.json()["manifests"])
    if digests != sorted(variant.digest for variant in variants):
        raise RuntimeError(f"{tool} pushed {tag} with entries {digests}")


def measure(
    job: Job,
    tools: dict[str, Callable[[Job, Sequence[Variant], str], list[str]]],
    env: dict[str, str],
    runs: int,
    conditions: Sequence[Condition],
) -> Results:
    """Runs interleaved across conditions and tools; the first round warms up, not counted.

    Round after round, every condition in turn and every tool in it, so a change in the
    machine's load hits every figure alike, the 2-to-8-platform growth included.
    """
    results = {condition: {name: Sample() for name in tools} for condition in conditions}
    for number in range(runs + 1):
        for condition in conditions:
            job.proxy.scenario = Scenario(latency=condition.latency)
            variants = job.variants[: condition.platforms]
            for name, command in tools.items():
                tag = f"{name}-{condition.platforms}-{number}-{uuid.uuid4().hex[:12]}"
                job.proxy.clear_log()
                run = run_process(command(job, variants, tag), env)
                log = job.proxy.log
                check_run(job, name, tag, variants, run)
                if number:  # round 0 warms caches (page cache, bytecode, registry)
                    sample = results[condition][name]
                    sample.seconds.append(run.seconds)
                    sample.cpu.append(run.cpu)
                    sample.requests.append(len(log))
                    sample.round_trips.append(round_trips(log))
    return results


@dataclass(frozen=True)
class ImportCost:
    """CPU seconds, minimums: the interpreter alone, our dependencies, our own modules."""

    interpreter: float
    dependencies: float
    own: float
    own_by_medians: float  # the same from the medians, which move more with the machine
    packages: tuple[str, ...]  # the dependencies' top-level packages


# Runs ``python -m metrics_api.oci ...`` and writes every module loaded by its exit to the
# file named in $MODULES_OUT. ``-X importtime`` would miss those loaded through
# ``importlib.import_module`` (pydantic's ``BaseModel``, from ``pydantic.main``, is one).
LIST_MODULES = (
    "import atexit, json, os, runpy, sys\n"
    "def dump():\n"
    "    with open(os.environ['MODULES_OUT'], 'w') as out:\n"
    "        json.dump(sorted(sys.modules), out)\n"
    "atexit.register(dump)\n"
    "runpy.run_module('metrics_api.oci', run_name='__main__', alter_sys=True)\n"
)


def imported_modules(job: Job, env: dict[str, str]) -> list[str]:
    """Every module a real assemble has loaded when it exits (at start and while it ran)."""
    tag = f"imports-{uuid.uuid4().hex[:12]}"
    variants = job.variants[:2]
    command = ours(job, variants, tag)
    job.proxy.clear_log()
    with tempfile.TemporaryDirectory() as scratch:
        listed = Path(scratch) / "modules.json"
        run = run_process(
            [command[0], "-c", LIST_MODULES, *command[3:]], {**env, "MODULES_OUT": str(listed)}
        )
        check_run(job, "ours", tag, variants, run)
        names: list[str] = json.loads(listed.read_text())
    return names


def import_cost(job: Job, env: dict[str, str], runs: int) -> ImportCost:
    """What our modules cost to import beyond the dependencies they import (CPU).

    Three programs, interleaved: ``pass``; every third-party module a real assemble
    imports (at start or while it runs); the same, then every module of ours it imports.
    Dependencies = the second less the first; ours = the third less the second: our
    module bodies, our pydantic classes, and the standard modules only we import. Each
    program ends with ``os._exit``: imports only, not the interpreter's shutdown. From the
    minimum CPU of each program (as issue 29 measured): a busy machine only ever adds.
    """
    names = imported_modules(job, env)
    own = [name for name in names if name.startswith("metrics_api") and "__main__" not in name]
    third_party = [
        name
        for name in names
        if name.split(".")[0] not in sys.stdlib_module_names
        and not name.startswith(("metrics_api", "_"))
    ]

    def program(modules: Sequence[str]) -> str:
        # Some are imports that failed on purpose (httpx._main without click): skip those.
        # It prints the top-level packages it loaded, among those it was asked to import.
        return (
            "import importlib, json, os, sys\n"
            "before = set(sys.modules)\n"
            f"names = {list(modules)!r}\n"
            "for name in names:\n"
            "    try:\n"
            "        importlib.import_module(name)\n"
            "    except ImportError:\n"
            "        pass\n"
            "loaded = {n.split('.')[0] for n in names if n in sys.modules and n not in before}\n"
            "print(json.dumps(sorted(loaded)), flush=True)\n"
            "os._exit(0)\n"  # the imports only, not the interpreter's shutdown
        )

    programs = {
        "interpreter": program([]),
        "dependencies": program(third_party),
        "own": program([*third_party, *own]),
    }
    cpu: dict[str, list[float]] = {name: [] for name in programs}
    packages: list[str] = []
    for number in range(runs + 1):
        for name, code in programs.items():
            run = run_process([sys.executable, "-c", code], env)
            if run.proc.returncode != 0:
                raise RuntimeError(f"importing failed: {run.proc.stderr.strip()}")
            if name == "dependencies":
                packages = json.loads(run.proc.stdout)
            if number:
                cpu[name].append(run.cpu)
    least = {name: min(values) for name, values in cpu.items()}
    medians = {name: statistics.median(values) for name, values in cpu.items()}
    return ImportCost(
        interpreter=least["interpreter"],
        dependencies=least["dependencies"] - least["interpreter"],
        own=least["own"] - least["dependencies"],
        own_by_medians=medians["own"] - medians["dependencies"],
        packages=tuple(packages),
    )


def ms(seconds: float) -> str:
    """Milliseconds, rounded."""
    return f"{seconds * 1000:.0f} ms"


def tables(results: Results) -> tuple[list[str], list[list[str]]]:
    """The figures: a header and one row per tool and condition."""
    header = [
        "tool",
        "network",
        "platforms",
        "median wall",
        "median CPU",
        "requests",
        "round trips",
        "wall vs fastest peer",
    ]
    rows: list[list[str]] = []
    for condition, samples in results.items():
        peers = [sample.wall for name, sample in samples.items() if name != "ours"]
        fastest = min(peers, default=None)
        for name, sample in samples.items():
            ratio = f"{sample.wall / fastest:.2f}x" if fastest else "n/a"
            # On loopback, concurrent requests rarely overlap in time: chains mean nothing.
            trips = "-" if not condition.latency else f"{sample.trips:g}"
            rows.append(
                [
                    name,
                    condition.network,
                    str(condition.platforms),
                    ms(sample.wall),
                    ms(sample.cpu_time),
                    f"{sample.request_count:g}",
                    trips,
                    ratio,
                ]
            )
    return header, rows


def plain_table(header: list[str], rows: list[list[str]]) -> str:
    """Columns padded with spaces."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    )


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub markdown table."""
    return "\n".join(
        [
            "| " + " | ".join(header) + " |",
            "|" + "|".join("---" for _ in header) + "|",
            *("| " + " | ".join(row) + " |" for row in rows),
        ]
    )


def verdict(ok: bool) -> str:
    """Met or not, as the README words it."""
    return "met" if ok else "**not met**"


def cpu_split(where: str, mine: Sample, imports: ImportCost) -> str:
    """Where one assemble's CPU goes, from minimums: what no code of ours can change, and ours.

    The interpreter and the dependencies' import are the floor; ours is our import plus
    the job itself (its requests, the models pydantic builds on first use, the report).
    """
    fastest = min(mine.cpu)
    floor = imports.interpreter + imports.dependencies
    return (
        f"{where}: ours {ms(fastest)} of CPU in its fastest run: the interpreter and the "
        f"dependencies' import {ms(floor)}, our import {ms(imports.own)}, the job "
        f"{ms(fastest - floor - imports.own)}"
    )


def findings(results: Results, imports: ImportCost, variants: Sequence[Variant]) -> list[str]:
    """Ours against the minimum the job needs, and against the targets."""
    lines = [
        (
            f"import: ours {ms(imports.own)} of CPU beyond the dependencies "
            f"({', '.join(imports.packages)}: {ms(imports.dependencies)}; the interpreter "
            f"alone: {ms(imports.interpreter)}; minimums of fresh processes; from the "
            f"medians, ours {ms(imports.own_by_medians)}); target <= {ms(OWN_IMPORT_TARGET)}: "
            f"{verdict(imports.own <= OWN_IMPORT_TARGET)}"
        )
    ]
    for condition, samples in results.items():
        mine = samples["ours"]
        chosen = variants[: condition.platforms]
        job_requests, job_trips = job_minimum(chosen)
        safe_requests, safe_trips = safe_minimum(chosen)
        where = f"{condition.network}, {condition.platforms} platforms"
        line = (
            f"{where}: minimum {job_requests} requests / {job_trips} round trips for the bare "
            f"job, {safe_requests} / {safe_trips} published safely; ours "
            f"{mine.request_count:g} requests"
        )
        if condition.latency:
            line += f" / {mine.trips:g} round trips"
        lines.append(line)
        if not condition.latency:
            lines.append(
                f"{where}: ours {ms(mine.cpu_time)} of CPU for the whole process; target <= "
                f"{ms(JOB_CPU_TARGET)}: {verdict(mine.cpu_time <= JOB_CPU_TARGET)}"
            )
            lines.append(cpu_split(where, mine, imports))
            continue
        peers = {name: sample.wall for name, sample in samples.items() if name != "ours"}
        if peers:
            name, fastest = min(peers.items(), key=lambda item: item[1])
            lines.append(
                f"{where}: ours (the whole safe job) {ms(mine.wall)} vs the fastest peer's bare "
                f"assemble ({name}) {ms(fastest)} = {mine.wall / fastest:.3f}x; target <= "
                f"{PEER_RATIO_TARGET:.2f}x: {verdict(mine.wall <= PEER_RATIO_TARGET * fastest)}"
            )
    latency = {c.platforms: s["ours"] for c, s in results.items() if c.latency}
    fewest, most = min(PLATFORM_COUNTS), max(PLATFORM_COUNTS)
    if fewest in latency and most in latency:
        growth = latency[most].wall / latency[fewest].wall - 1
        trips = " / ".join(f"{latency[count].trips:g}" for count in sorted(latency))
        counts = " / ".join(str(count) for count in sorted(latency))
        lines.append(
            f"ours with added latency, {counts} platforms: round trips {trips}; wall from "
            f"{fewest} to {most} platforms {growth:+.1%}, target <= +{GROWTH_TARGET:.0%}: "
            f"{verdict(growth <= GROWTH_TARGET)}"
        )
    return lines


def machine() -> str:
    """The machine's condition, for the record."""
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs, load average {load}; Python {sys.version.split()[0]}; "
        f"{os.uname().sysname} {os.uname().release}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Set up, measure every condition and the imports, print; stop everything we started."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--runs", type=int, default=10, help="measured runs per tool (>= 10)")
    parser.add_argument("--latency-ms", type=int, default=50, help="added per round trip")
    parser.add_argument(
        "--cache-dir", type=Path, default=Path("/var/cache/metrics-api-bench"), help="peers"
    )
    args = parser.parse_args(argv)
    # Stopped with SIGTERM, still run the finally blocks that stop the registry and proxy.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    binaries = install_peers(args.cache_dir / "bin")
    tools: dict[str, Callable[[Job, Sequence[Variant], str], list[str]]] = {"ours": ours}
    tools.update((name, PEER_COMMANDS[name](binary)) for name, binary in binaries.items())
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
    before = machine()
    registry = start_registry()
    proxy: FaultProxy | None = None
    try:
        variants = push_variants(registry)
        proxy = start_proxy(registry.host)
        job = Job(registry, proxy, variants)
        if "regctl" in binaries:  # plain HTTP for the proxy, in regctl's config under HOME
            subprocess.run(
                [str(binaries["regctl"]), "registry", "set", proxy.host, "--tls", "disabled"],
                env=env,
                capture_output=True,
                timeout=RUN_TIMEOUT,
                check=True,
            )
            # Its ping is logged by the proxy just after regctl got the answer and exited:
            # wait for that entry, or it lands in the log of the first measured run.
            deadline = time.monotonic() + 5
            while not proxy.log and time.monotonic() < deadline:
                time.sleep(0.01)
        latency = f"+{args.latency_ms} ms"
        conditions = [
            Condition("loopback", 0.0, min(PLATFORM_COUNTS)),
            *(Condition(latency, args.latency_ms / 1000, n) for n in PLATFORM_COUNTS),
        ]
        results = measure(job, tools, env, args.runs, conditions)
        proxy.scenario = Scenario()
        imports = import_cost(job, env, max(args.runs, 20))
    finally:
        if proxy is not None:
            proxy.stop()
        registry.close()
        shutil.rmtree(home, ignore_errors=True)
    header, rows = tables(results)
    print()
    print(plain_table(header, rows))
    print()
    print("\n".join(findings(results, imports, variants)))
    print()
    print(f"machine before: {before}")
    print(f"machine after:  {machine()}")
    print()
    print(markdown_table(header, rows))
    print()
    print(
        f"Median of {args.runs} runs each, interleaved; whole processes (ours includes Python "
        f"start-up); CPU = user + sys of the process; `{latency}` = {args.latency_ms} ms per "
        "HTTP round trip and per new connection, added by the fault proxy every tool goes "
        "through. Round trips: the longest chain of requests each sent after the previous "
        "one was answered."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
