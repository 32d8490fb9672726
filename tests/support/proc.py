"""Run external tools with a timeout and errors that say what failed and how to fix it."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

# Which Debian package provides each tool we call, for "install X" messages.
PACKAGES: dict[str, str] = {
    "docker-registry": "docker-registry",
    "buildah": "buildah",
    "skopeo": "skopeo",
    "podman": "podman",
    "runc": "runc",
    "mmdebstrap": "mmdebstrap",
    "update-binfmts": "binfmt-support",
    "qemu-aarch64-static": "qemu-user-static",
    "mount": "mount",
    "umount": "mount",
    "tar": "tar",
    "curl": "curl",
    "docker-credential-pass": "golang-docker-credential-helpers",
    "pass": "pass",
    "gpg": "gnupg",
    "gpgconf": "gnupg",
    "openssl": "openssl",
}

DEFAULT_TIMEOUT = 120.0
_TAIL = 3000


class ToolMissingError(RuntimeError):
    """A required command is not installed; the message names the package to install."""

    def __init__(self, tool: str, package: str | None = None, *, hint: str = "") -> None:
        """Name the tool and the package that provides it (or ``hint``: how to install it)."""
        self.tool = tool
        self.package = package or PACKAGES.get(tool)
        if not hint:
            hint = (
                f"install the Debian package `{self.package}` (apt-get install -y {self.package})"
                if self.package
                else "install it and put it on PATH"
            )
        super().__init__(f"`{tool}` is not installed or not on PATH: {hint}")


class CommandError(RuntimeError):
    """A command failed or timed out; the message shows the command and its output's tail."""

    def __init__(
        self,
        cmd: Sequence[str],
        returncode: int | None,
        stdout: str,
        stderr: str,
        *,
        timeout: float | None = None,
    ) -> None:
        """Keep the details so tests can assert on them, and build a readable message."""
        self.cmd = list(cmd)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        status = (
            f"timed out after {timeout:g} s" if timeout is not None else f"exit code {returncode}"
        )
        parts = [f"command failed ({status}): {shlex_join(self.cmd)}"]
        if stderr.strip():
            parts.append(f"--- stderr (tail) ---\n{_tail(stderr)}")
        if stdout.strip():
            parts.append(f"--- stdout (tail) ---\n{_tail(stdout)}")
        super().__init__("\n".join(parts))


def shlex_join(cmd: Sequence[str]) -> str:
    """Quote a command the way a shell user would retype it."""
    return shlex.join(cmd)


def _tail(text: str) -> str:
    return text if len(text) <= _TAIL else "..." + text[-_TAIL:]


def _decode(data: bytes | str | None) -> str:
    if data is None:
        return ""
    if isinstance(data, str):
        return data
    return data.decode("utf-8", "replace")


def require_tool(tool: str, package: str | None = None) -> str:
    """Return the tool's path, or raise ToolMissingError naming the package to install."""
    found = shutil.which(tool)
    if found is None:
        for extra in ("/usr/sbin", "/sbin", "/usr/local/sbin"):
            candidate = Path(extra) / tool
            if candidate.is_file():
                return str(candidate)
        raise ToolMissingError(tool, package)
    return found


def run_bytes(  # noqa: PLR0913 - keyword options of subprocess.run
    cmd: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    check: bool = True,
    cwd: str | Path | None = None,
    input_data: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run a command, capture stdout as bytes (exact manifests), fail with a clear message."""
    if not cmd:
        raise ValueError("empty command")
    exe = require_tool(cmd[0])
    argv = [exe, *cmd[1:]]
    try:
        proc = subprocess.run(
            argv,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            input=input_data,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise CommandError(
            cmd, None, _decode(exc.stdout), _decode(exc.stderr), timeout=timeout
        ) from exc
    if check and proc.returncode != 0:
        raise CommandError(cmd, proc.returncode, _decode(proc.stdout), _decode(proc.stderr))
    return proc


def run(  # noqa: PLR0913 - keyword options of subprocess.run
    cmd: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    check: bool = True,
    cwd: str | Path | None = None,
    input_text: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command with captured text output; raise CommandError on failure or timeout."""
    proc = run_bytes(
        cmd,
        env=env,
        timeout=timeout,
        check=check,
        cwd=cwd,
        input_data=input_text.encode() if input_text is not None else None,
    )
    return subprocess.CompletedProcess(
        proc.args, proc.returncode, _decode(proc.stdout), _decode(proc.stderr)
    )


def stop_process(proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
    """Stop a server process this suite started: terminate, wait, kill if it lingers."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)
