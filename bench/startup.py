"""Start-up time and memory of the two metrics-api implementations: figures, not a test.

Starts each implementation --runs times as a real process and measures:
- cold start: from just before the process is spawned to the first 200 on
  /healthz, polled every 2 ms (median over the runs);
- resident memory: VmRSS from /proc/PID/status after --requests requests of a
  mixed load (median over the runs); for Python that is the interpreter itself.
Then prints the Go/Python ratios and whether the target is met: Go's cold start
and RSS at most a fifth of Python's. Builds the Go binary itself, as the
Dockerfile does. Run from anywhere: python bench/startup.py [--runs 20].
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
GO_APP_DIR = REPO_ROOT / "app-amd64"
PYTHON_APP_DIR = REPO_ROOT / "app-arm64"
POLL_SECONDS = 0.002
START_TIMEOUT_SECONDS = 30.0
TARGET_RATIO = 0.2
HTTP_OK = 200


@dataclass
class RunFigures:
    """What one run of one implementation measured."""

    start_seconds: float
    rss_kib: int


def build_go(output_dir: Path) -> list[str]:
    """Build app-amd64 like the Dockerfile (static, stripped); returns the command to run it."""
    go = shutil.which("go") or "/usr/local/go/bin/go"
    binary = output_dir / "metrics-api"
    env = {**os.environ, "CGO_ENABLED": "0", "GOTOOLCHAIN": "local"}
    subprocess.run(
        [go, "build", "-trimpath", "-ldflags", "-s -w", "-o", str(binary), "."],
        cwd=GO_APP_DIR,
        env=env,
        check=True,
    )
    return [str(binary)]


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def healthz_ok(port: int) -> bool:
    """One attempt at GET /healthz; False while nothing listens yet."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status == HTTP_OK
    except OSError:
        return False
    finally:
        connection.close()


def wait_until_ready(process: subprocess.Popen[bytes], port: int) -> None:
    """Poll /healthz every POLL_SECONDS until it answers 200."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not healthz_ok(port):
        if process.poll() is not None:
            message = f"the service exited with status {process.returncode} before answering"
            raise RuntimeError(message)
        if time.monotonic() > deadline:
            message = f"no 200 on /healthz within {START_TIMEOUT_SECONDS}s"
            raise RuntimeError(message)
        time.sleep(POLL_SECONDS)


def send_load(port: int, count: int) -> None:
    """Send count requests on one keep-alive connection: ingest, reads, scrapes."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for index in range(count):
            name = f"bench_metric_{index % 50}"
            if index % 4 == 0:
                sample = {"name": name, "value": index * 0.5, "labels": {"shard": str(index % 7)}}
                connection.request("POST", "/v1/metrics", body=json.dumps(sample).encode())
            elif index % 4 == 1:
                connection.request("GET", f"/v1/metrics/{name}?shard={index % 7}")
            elif index % 100 == 2:  # noqa: PLR2004 - one scrape per hundred requests
                connection.request("GET", "/metrics")
            else:
                connection.request("GET", "/healthz")
            connection.getresponse().read()
    finally:
        connection.close()


def resident_kib(pid: int) -> int:
    """VmRSS of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    message = f"no VmRSS for process {pid}"
    raise RuntimeError(message)


def run_once(command: list[str], cwd: Path, requests: int) -> RunFigures:
    """Start one process, time its start-up, load it, read its memory, stop it."""
    port = free_port()
    env = {**os.environ, "PORT": str(port)}
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_until_ready(process, port)
        start_seconds = time.perf_counter() - started
        send_load(port, requests)
        rss = resident_kib(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        status = process.wait(timeout=30)
    if status != 0:
        message = f"{command[0]} exited with status {status} on SIGTERM"
        raise RuntimeError(message)
    return RunFigures(start_seconds, rss)


def ratio_line(label: str, go: float, python: float) -> str:
    """One Go/Python ratio with the verdict against the target."""
    ratio = go / python
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    return f"{label:<12} {ratio:6.3f}   (target <= {TARGET_RATIO:.2f}: {verdict})"


def main() -> int:
    """Measure both implementations and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="processes started per implementation")
    parser.add_argument("--requests", type=int, default=1000, help="requests before reading RSS")
    parser.add_argument("--python", default=sys.executable, help="interpreter for app-arm64")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="metrics-api-bench-") as scratch:
        commands = {
            "go": (build_go(Path(scratch)), GO_APP_DIR),
            "python": ([arguments.python, "-m", "metrics_api_legacy"], PYTHON_APP_DIR),
        }
        figures: dict[str, list[RunFigures]] = {name: [] for name in commands}
        for _ in range(arguments.runs):  # interleaved, so drift affects both alike
            for name, (command, cwd) in commands.items():
                figures[name].append(run_once(command, cwd, arguments.requests))

    start_ms = {n: statistics.median(r.start_seconds for r in f) * 1000 for n, f in figures.items()}
    rss_mib = {n: statistics.median(r.rss_kib for r in f) / 1024 for n, f in figures.items()}
    version = subprocess.run(
        [arguments.python, "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    print(f"metrics-api start-up and memory: {arguments.runs} runs each, {version}")
    print(f"{'':<12} {'cold start (median)':>20} {'RSS after ' + str(arguments.requests):>22}")
    for name, runs in figures.items():
        low = min(r.start_seconds for r in runs) * 1000
        high = max(r.start_seconds for r in runs) * 1000
        print(
            f"{name:<12} {start_ms[name]:>11.1f} ms"
            f" [{low:.1f}-{high:.1f}]  {rss_mib[name]:>14.1f} MiB"
        )
    print("Go/Python ratios:")
    print(ratio_line("cold start", start_ms["go"], start_ms["python"]))
    print(ratio_line("RSS", rss_mib["go"], rss_mib["python"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
