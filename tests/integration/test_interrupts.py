"""SIGINT and SIGTERM stop the command line at once, whenever they come and whatever it waits on.

Each job ends with its one line and exit code 128 + the signal: one whose parent left
SIGINT ignored (a background command of a CI script), one signalled before its event loop
ran, one waiting for a name lookup that never ends, one waiting for a credential helper.
No registry is needed: small loopback servers stand in for one.
"""

import json
import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from support.listeners import Listener
from support.oci_cli import cli_command

pytestmark = pytest.mark.integration

HANG_GUARD = 60.0  # only a guard: every job under test stops as soon as it is signalled
SIGNALS = pytest.mark.parametrize(
    "received", [signal.SIGINT, signal.SIGTERM], ids=lambda s: signal.Signals(s).name
)

# Runs the command after it with SIGINT ignored, as `cmd &` in a non-interactive shell does.
IGNORING_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)
# The command line, signalled just before its event loop starts (a CI system cancelling
# the job as it starts); the signal's name is in $SIGNAL.
SIGNALLED_BEFORE_THE_LOOP = """
import os, signal, anyio
from metrics_api.oci import cli
start_loop = anyio.run
def signalled_first(*args, **kwargs):
    signal.raise_signal(signal.Signals[os.environ["SIGNAL"]])
    return start_loop(*args, **kwargs)
anyio.run = signalled_first
cli.run()
"""
# The command line, with the lookup of the name `stuck.registry.test` never answering;
# it writes a line to the file descriptor $LOOKING_UP once the lookup has begun.
STUCK_NAME = "stuck.registry.test"
LOOKUP_NEVER_ENDS = f"""
import os, socket, threading
resolve = socket.getaddrinfo
def stuck(host, *args, **kwargs):
    if host in ({STUCK_NAME!r}, {STUCK_NAME.encode()!r}):
        os.write(int(os.environ["LOOKING_UP"]), b"looking up\\n")
        threading.Event().wait()
    return resolve(host, *args, **kwargs)
socket.getaddrinfo = stuck
from metrics_api.oci import cli
cli.run()
"""
# A credential helper that never answers; it writes its pid to the FIFO $ASKED first.
WAITING_HELPER = "metrics-api-waiting"
WAITING_HELPER_SCRIPT = """#!/bin/sh
echo $$ >"$ASKED"
exec sleep 3600
"""


@contextmanager
def started(command: list[str], **options: object) -> Iterator[subprocess.Popen[str]]:
    """The command running; killed at the end if it is still running (a test that failed)."""
    job = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **options,  # type: ignore[call-overload]
    )
    try:
        yield job
    finally:
        if job.poll() is None:
            job.kill()
        job.communicate()


def assert_interrupted(job: subprocess.Popen[str], received: signal.Signals) -> None:
    """Signal the job: it stops with its one line, 128 + the signal and a JSON report."""
    job.send_signal(received)
    stdout, stderr = job.communicate(timeout=HANG_GUARD)
    assert job.returncode == 128 + received, stderr
    (line,) = stderr.splitlines()
    assert line.startswith(f"error: interrupted ({received.name}) before the job finished; ")
    assert json.loads(stdout)["ok"] is False


def readline(fd: int) -> str:
    """A line from a pipe or FIFO opened non-blocking, once one was written."""
    readable, _, _ = select.select([fd], [], [], HANG_GUARD)
    assert readable, "nothing was written within the guard's time"
    return os.read(fd, 4096).decode()


@SIGNALS
def test_a_signal_the_parent_ignores_still_stops_the_job(
    holding: Listener, received: signal.Signals
) -> None:
    """Python leaves SIGINT ignored when it is inherited so; the command line does not."""
    host = f"127.0.0.1:{holding.port}"
    command = cli_command(
        "assemble",
        f"{host}/metrics-api:v2.0.0",
        "--variant",
        f"linux/amd64={host}/metrics-api:v2.0.0-amd64",
        "--json",
        "--request-timeout",
        "5",  # without the signal, the job fails after 2 attempts: exit 1, not 128 + N
    )
    with started([sys.executable, "-c", IGNORING_SIGINT, *command[1:]]) as job:
        holding.wait_for_request("GET")
        assert_interrupted(job, received)


@SIGNALS
def test_a_signal_before_the_event_loop_stops_the_job_before_any_request(
    holding: Listener, received: signal.Signals
) -> None:
    command = [sys.executable, "-c", SIGNALLED_BEFORE_THE_LOOP]
    arguments = ["resolve", f"127.0.0.1:{holding.port}/metrics-api:v2.0.0", "--json"]
    env = {**os.environ, "SIGNAL": received.name}
    with started([*command, *arguments, "--platform", "linux/amd64"], env=env) as job:
        stdout, stderr = job.communicate(timeout=HANG_GUARD)
    assert job.returncode == 128 + received, stderr
    (line,) = stderr.splitlines()
    nothing = "nothing was written"
    assert line == f"error: interrupted ({received.name}) before the job finished; {nothing}"
    assert json.loads(stdout)["requests"] == 0
    assert holding.connections == 0


@SIGNALS
def test_a_name_lookup_that_never_ends_does_not_hold_an_interrupted_job(
    received: signal.Signals,
) -> None:
    reading, writing = os.pipe()
    os.set_blocking(reading, False)
    command = [sys.executable, "-c", LOOKUP_NEVER_ENDS, "resolve", f"{STUCK_NAME}/app:v1"]
    env = {**os.environ, "LOOKING_UP": str(writing)}
    try:
        with started(
            [*command, "--platform", "linux/amd64", "--json"], env=env, pass_fds=(writing,)
        ) as job:
            os.close(writing)
            writing = -1
            assert readline(reading) == "looking up\n"
            assert_interrupted(job, received)
    finally:
        os.close(reading)
        if writing >= 0:
            os.close(writing)


@SIGNALS
def test_a_credential_helper_that_never_answers_does_not_hold_an_interrupted_job(
    tmp_path: Path, received: signal.Signals
) -> None:
    """The helper runs when the registry asks for a password; the job must not wait on it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / f"docker-credential-{WAITING_HELPER}"
    helper.write_text(WAITING_HELPER_SCRIPT)
    helper.chmod(0o755)
    (tmp_path / "config.json").write_text(json.dumps({"credsStore": WAITING_HELPER}))
    asked = tmp_path / "asked"
    os.mkfifo(asked)
    reading = os.open(asked, os.O_RDONLY | os.O_NONBLOCK)  # the helper's write never blocks
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "DOCKER_CONFIG": str(tmp_path),
        "ASKED": str(asked),
    }
    helper_pid = 0
    try:
        with Listener("basic challenge").start() as registry:
            reference = f"127.0.0.1:{registry.port}/metrics-api:v2.0.0"
            command = cli_command("resolve", reference, "--platform", "linux/amd64", "--json")
            with started(command, env=env) as job:
                helper_pid = int(readline(reading))
                assert_interrupted(job, received)
    finally:
        os.close(reading)
        if helper_pid:
            with suppress(ProcessLookupError):
                os.kill(helper_pid, signal.SIGKILL)
