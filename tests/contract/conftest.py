"""Targets for the metrics-api contract suite: local processes, or services already running.

Without METRICS_API_CONTRACT_TARGETS, the suite builds app-amd64 with `go build`
once per session, runs app-arm64 from source, each as a real process on a free
loopback port, and stops each with SIGTERM expecting exit status 0. With it (a
JSON list of {"implementation", "arch", "url"}), the suite runs against those
services instead, e.g. containers started by the end-to-end tests.

Test modules cannot import this file (importlib import mode), so fixtures hand
out plain values: a target is a dict[str, str] and talks through httpx clients.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

REPO_ROOT = Path(__file__).resolve().parents[2]
GO_APP_DIR = REPO_ROOT / "app-amd64"
PYTHON_APP_DIR = REPO_ROOT / "app-arm64"
TARGETS_VARIABLE = "METRICS_API_CONTRACT_TARGETS"
IMPLEMENTATIONS = ("go", "python")
ARCHES = ("amd64", "arm64")
START_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 15.0
GO_FALLBACK = Path("/usr/local/go/bin/go")


def machine_arch() -> str:
    """This machine's architecture with Go's names, which local processes report."""
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def given_targets() -> list[dict[str, str]] | None:
    """Parse METRICS_API_CONTRACT_TARGETS, or None when the suite starts its own processes."""
    raw = os.environ.get(TARGETS_VARIABLE, "").strip()
    if not raw:
        return None
    try:
        entries = json.loads(raw)
    except json.JSONDecodeError as error:
        raise pytest.UsageError(f"{TARGETS_VARIABLE} is not JSON: {error}") from None
    if not isinstance(entries, list) or not entries:
        raise pytest.UsageError(f"{TARGETS_VARIABLE} must be a non-empty JSON list")
    targets: list[dict[str, str]] = []
    for entry in entries:
        valid = (
            isinstance(entry, dict)
            and entry.get("implementation") in IMPLEMENTATIONS
            and entry.get("arch") in ARCHES
            and isinstance(entry.get("url"), str)
            and entry["url"].startswith(("http://", "https://"))
        )
        if not valid:
            raise pytest.UsageError(
                f"{TARGETS_VARIABLE} entries must look like "
                '{"implementation": "go"|"python", "arch": "amd64"|"arm64", '
                f'"url": "http://127.0.0.1:PORT"}}, got {entry!r}'
            )
        targets.append(
            {
                "implementation": entry["implementation"],
                "arch": entry["arch"],
                "url": entry["url"].rstrip("/"),
            }
        )
    return targets


def target_ids(targets: list[dict[str, str]]) -> list[str]:
    """Readable, unique ids: go-amd64, python-arm64 (#2, #3... for repeated entries)."""
    ids: list[str] = []
    for target in targets:
        base = f"{target['implementation']}-{target['arch']}"
        ids.append(base if base not in ids else f"{base}#{len(ids) + 1}")
    return ids


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that asks for `target` once per implementation (or given target)."""
    if "target" in metafunc.fixturenames:
        targets = given_targets()
        ids = target_ids(targets) if targets else list(IMPLEMENTATIONS)
        metafunc.parametrize("target", range(len(ids)), ids=ids, indirect=True, scope="session")


def find_go() -> str:
    """The go command; the suite fails (not skips) without it."""
    go = shutil.which("go") or (str(GO_FALLBACK) if GO_FALLBACK.exists() else None)
    if go is None:
        pytest.fail(
            "the contract suite builds app-amd64 with the Go toolchain, but `go` was not "
            "found on PATH: install Go 1.22 or newer and put its bin directory on PATH",
            pytrace=False,
        )
    return go


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ServiceProcess:
    """One implementation running as a real process, its output kept in a file."""

    implementation: str
    process: subprocess.Popen[bytes]
    url: str
    port: int
    log_path: Path

    def output(self) -> str:
        """Everything the process wrote to stdout and stderr so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        """SIGTERM, then wait; returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"{self.implementation} did not stop within {STOP_TIMEOUT_SECONDS}s")


@dataclass
class Launcher:
    """Starts implementations as processes and remembers them for cleanup."""

    logs_dir: Path
    build_go: Callable[[], Path]
    started: list[ServiceProcess] = field(default_factory=list)

    def start(self, implementation: str) -> ServiceProcess:
        """Start one implementation on a free port and wait until /healthz answers 200."""
        port = free_port()
        env = {**os.environ, "PORT": str(port)}
        env.pop("PYTHONUNBUFFERED", None)  # the service must flush its log lines itself
        for name in ("METRICS_API_VERSION", "METRICS_API_REVISION"):
            env.pop(name, None)
        if implementation == "go":
            command, cwd = [str(self.build_go())], GO_APP_DIR
        else:
            command, cwd = [sys.executable, "-m", "metrics_api_legacy"], PYTHON_APP_DIR
        log_path = self.logs_dir / f"{implementation}-{port}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=log)
        service = ServiceProcess(
            implementation, process, f"http://127.0.0.1:{port}", port, log_path
        )
        self.started.append(service)
        wait_until_healthy(service)
        return service

    def stop_all(self) -> dict[str, int]:
        """Stop everything still running; returns exit statuses by log file name."""
        return {service.log_path.name: service.stop() for service in self.started}


def wait_until_healthy(service: ServiceProcess) -> None:
    """Poll /healthz until it answers 200; fail with the process output if it never does."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            pytest.fail(
                f"{service.implementation} exited with {service.process.returncode} "
                f"before answering:\n{service.output()}"
            )
        try:
            if httpx.get(f"{service.url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.01)
    pytest.fail(f"{service.implementation} did not answer /healthz:\n{service.output()}")


@pytest.fixture(scope="session")
def go_binary(tmp_path_factory: pytest.TempPathFactory) -> Callable[[], Path]:
    """Build app-amd64 once per session, on first use."""
    built: list[Path] = []

    def build() -> Path:
        if not built:
            output = tmp_path_factory.mktemp("go-build") / "metrics-api"
            env = {**os.environ, "CGO_ENABLED": "0", "GOTOOLCHAIN": "local"}
            result = subprocess.run(
                [find_go(), "build", "-o", str(output), "."],
                cwd=GO_APP_DIR,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                pytest.fail(f"go build failed in app-amd64:\n{result.stderr}", pytrace=False)
            built.append(output)
        return built[0]

    return build


@pytest.fixture(scope="session")
def shared_launcher(
    tmp_path_factory: pytest.TempPathFactory, go_binary: Callable[[], Path]
) -> Iterator[Launcher]:
    """The session's long-running processes; each must exit 0 on SIGTERM at the end."""
    launcher = Launcher(tmp_path_factory.mktemp("service-logs"), go_binary)
    yield launcher
    statuses = launcher.stop_all()
    assert statuses == dict.fromkeys(statuses, 0), f"exit statuses on SIGTERM: {statuses}"


@pytest.fixture
def launcher(
    tmp_path: Path, go_binary: Callable[[], Path]
) -> Iterator[Callable[[str], ServiceProcess]]:
    """Start fresh processes for one test (local mode only); stopped afterwards."""
    if given_targets() is not None:
        pytest.skip(f"needs fresh local processes; {TARGETS_VARIABLE} gives running services")
    fresh = Launcher(tmp_path, go_binary)
    yield fresh.start
    fresh.stop_all()


@pytest.fixture(scope="session")
def all_targets(shared_launcher: Launcher) -> list[dict[str, str]]:
    """Every target of the session, each with its expected implementation and arch."""
    targets = given_targets()
    if targets is not None:
        return targets
    arch = machine_arch()
    return [
        {"implementation": name, "arch": arch, "url": shared_launcher.start(name).url}
        for name in IMPLEMENTATIONS
    ]


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest, all_targets: list[dict[str, str]]) -> dict[str, str]:
    """One target: {"implementation", "arch", "url"}."""
    index: int = request.param
    return all_targets[index]


@pytest.fixture
def client(target: dict[str, str]) -> Iterator[httpx.Client]:
    """An HTTP client for the target of this test."""
    with httpx.Client(base_url=target["url"], timeout=10) as http:
        yield http


@pytest.fixture(scope="session")
def clients(all_targets: list[dict[str, str]]) -> Iterator[dict[str, httpx.Client]]:
    """One client per target, by target id, for the differential tests."""
    by_id = {
        name: httpx.Client(base_url=t["url"], timeout=10)
        for name, t in zip(target_ids(all_targets), all_targets, strict=True)
    }
    yield by_id
    for http in by_id.values():
        http.close()


@pytest.fixture
def unique_name() -> str:
    """A metric name no other test uses, so tests stay independent on shared services."""
    return f"contract_{uuid.uuid4().hex[:12]}"
