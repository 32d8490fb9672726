"""A real OCI registry (CNCF distribution, Debian's ``docker-registry``) for tests.

Each registry runs as its own process on a free loopback port with storage in a
temporary directory, so tests can start a second one (copy across registries) or
stop one (simulate "registry down") without touching anything else on the machine.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Self

import httpx

from .proc import ToolMissingError, require_tool, stop_process

if TYPE_CHECKING:
    from types import TracebackType

READY_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
_START_ATTEMPTS = 3


class RegistryStartError(RuntimeError):
    """The registry did not answer ``GET /v2/`` in time; the message carries its log."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on ``host`` right now (closed again: a tiny race, retried on start)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class Registry:
    """One ``docker-registry serve`` process, owned and stopped by its own PID.

    Subclasses run other implementations (``registry_kinds``) by overriding ``_command``
    and ``_write_config``.
    """

    program = "docker-registry"  # for messages

    def __init__(self, data_dir: Path, port: int, *, owns_data_dir: bool) -> None:
        """Prepare the config; call ``start()`` to run it (``start_registry()`` does both)."""
        self.data_dir = data_dir
        self.port = port
        self._owns_data_dir = owns_data_dir
        self.config_path = data_dir / "config.yml"
        self.log_path = data_dir / "registry.log"
        self.storage_dir = data_dir / "storage"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, the registry part of an image reference."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """Base URL for raw HTTP calls (``{url}/v2/...``)."""
        return f"http://{self.host}"

    @property
    def pid(self) -> int | None:
        """PID of the running registry, or None when stopped."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        """Whether our process is alive (it may still be starting)."""
        return self._proc is not None and self._proc.poll() is None

    def ref(self, repository: str, tag_or_digest: str | None = None) -> str:
        """Build ``127.0.0.1:PORT/repo[:tag|@digest]``."""
        if tag_or_digest is None:
            return f"{self.host}/{repository}"
        sep = "@" if tag_or_digest.startswith("sha256:") else ":"
        return f"{self.host}/{repository}{sep}{tag_or_digest}"

    def log_text(self) -> str:
        """The registry's combined stdout/stderr so far (for failure messages)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _write_config(self) -> None:
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        # JSON is valid YAML: no quoting surprises with temp paths.
        self.config_path.write_text(
            "version: 0.1\n"
            "log: {level: info, formatter: text}\n"
            f'storage: {{filesystem: {{rootdirectory: "{self.storage_dir}"}}, '
            "delete: {enabled: true}, maintenance: {uploadpurging: {enabled: false}}}\n"
            f'http: {{addr: "{self.host}"}}\n'
        )

    @classmethod
    def executable(cls) -> str:
        """The program's path; ToolMissingError says how to install it when it is missing."""
        return require_tool("docker-registry")

    def _command(self) -> list[str]:
        """The command line that serves this registry."""
        return [self.executable(), "serve", str(self.config_path)]

    def start(self, *, timeout: float = READY_TIMEOUT) -> None:
        """Start (or restart, same port and storage) and wait until ``GET /v2/`` answers.

        Ready means 200, or 401 when ``_write_config`` was extended with auth.
        """
        if self.running:
            return
        command = self._command()
        self._write_config()
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready(timeout)

    def _probe_client(self) -> httpx.Client:
        """The client that waits for ``GET /v2/`` (a TLS subclass trusts its own CA)."""
        return httpx.Client(trust_env=False, timeout=2.0)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error = "no answer yet"
        with self._probe_client() as client:
            while time.monotonic() < deadline:
                if self._proc is None or self._proc.poll() is not None:
                    code = None if self._proc is None else self._proc.returncode
                    self._proc = None
                    raise RegistryStartError(
                        f"{self.program} exited (code {code}) before answering on "
                        f"{self.url}/v2/ (config {self.config_path}); log:\n{self.log_text()}"
                    )
                try:
                    resp = client.get(f"{self.url}/v2/")
                except httpx.TransportError as exc:
                    last_error = repr(exc)
                else:
                    # 401: up, but configured with auth (a subclass may add htpasswd).
                    if resp.status_code in {httpx.codes.OK, httpx.codes.UNAUTHORIZED}:
                        return
                    last_error = f"HTTP {resp.status_code}: {resp.text[:200]}"
                time.sleep(0.05)
        log = self.log_text()
        self.stop()
        raise RegistryStartError(
            f"{self.program} on {self.host} did not answer GET /v2/ with 200/401 within "
            f"{timeout:g} s (last: {last_error}); log:\n{log}"
        )

    def stop(self, *, timeout: float = STOP_TIMEOUT) -> None:
        """Stop our process only (terminate, wait, kill); storage is kept for ``start()``."""
        proc, self._proc = self._proc, None
        stop_process(proc, timeout)

    def close(self) -> None:
        """Stop and delete the storage when we created it."""
        self.stop()
        if self._owns_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> Self:
        """Use as ``with start_registry() as reg:``."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop and clean up."""
        self.close()

    def __repr__(self) -> str:
        """Show where it listens and whether it runs."""
        return (
            f"{type(self).__name__}(host={self.host!r}, pid={self.pid}, "
            f"data_dir={str(self.data_dir)!r})"
        )


def start_registry(
    data_dir: Path | None = None,
    *,
    port: int | None = None,
    timeout: float = READY_TIMEOUT,
    registry_class: type[Registry] = Registry,
) -> Registry:
    """Start a fresh registry on a free loopback port and return it once it answers.

    Raises ToolMissingError (naming the Debian package ``docker-registry``, or how to
    install another implementation) when the binary is missing, and RegistryStartError
    with the registry's log when it fails. Callers own the result: ``close()`` it (or use
    it as a context manager).
    """
    registry_class.executable()
    owns = data_dir is None
    base = Path(tempfile.mkdtemp(prefix="metrics-api-registry-")) if data_dir is None else data_dir
    base.mkdir(parents=True, exist_ok=True)
    last: RegistryStartError | None = None
    for _ in range(_START_ATTEMPTS if port is None else 1):
        reg = registry_class(base, port if port is not None else free_port(), owns_data_dir=owns)
        try:
            reg.start(timeout=timeout)
        except RegistryStartError as exc:
            # Another process may have taken the port between probe and bind: try another.
            last = exc
            if "address already in use" not in str(exc):
                break
        else:
            return reg
    if owns:
        with contextlib.suppress(OSError):
            shutil.rmtree(base)
    assert last is not None
    raise last


__all__ = [
    "Registry",
    "RegistryStartError",
    "ToolMissingError",
    "free_port",
    "start_registry",
]
