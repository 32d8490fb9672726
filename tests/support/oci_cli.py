"""The core's command line as CI runs it, and the variants the integration tests push."""

import json
import os
import socket
import ssl
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import httpx

from .proc import run
from .registry import Registry

CLI_TIMEOUT = 120


@dataclass(frozen=True)
class CliResult:
    """What `python -m metrics_api.oci ... --json` did."""

    code: int
    report: dict[str, Any]
    stderr: str


def cli_command(*args: str) -> list[str]:
    """The command line that runs the core's command line with ``args``."""
    return [sys.executable, "-m", "metrics_api.oci", *args]


def run_cli_text(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the core's command line as a person would, without --json."""
    return subprocess.run(
        cli_command(*args),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        env={**os.environ, **(env or {})},
        check=False,
    )


def run_cli(*args: str, env: dict[str, str] | None = None) -> CliResult:
    """Run the core's command line as CI would, always with --json."""
    proc = run_cli_text(*args, "--json", env=env)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise AssertionError(
            f"expected one JSON object on stdout, exit {proc.returncode}; stderr: {proc.stderr}"
        ) from None
    return CliResult(proc.returncode, report, proc.stderr)


@dataclass(frozen=True)
class Variants:
    """Per-platform variants pushed by buildah, with the digests recorded at push time."""

    registry: Registry
    repository: str
    amd64: str  # image manifest digest of :v2.0.0-amd64 (a flat OCI manifest)
    arm64: str  # image manifest digest inside :v2.0.0-arm64 (a Docker-29-style index)
    arm64_index: str  # digest of that wrapping index
    other_amd64: str  # another amd64 image, for indexes that must differ

    def ref(self, tag_or_digest: str) -> str:
        """A reference into the variants' repository."""
        return self.registry.ref(self.repository, tag_or_digest)

    def variant_flags(self) -> tuple[str, ...]:
        """``--variant`` for each platform, by the tags the variants were pushed under."""
        return (
            "--variant",
            f"linux/amd64={self.ref('v2.0.0-amd64')}",
            "--variant",
            f"linux/arm64={self.ref('v2.0.0-arm64')}",
        )


class AuthRegistry(Registry):
    """A registry that wants HTTP basic credentials (distribution's htpasswd auth)."""

    username = "ci-bot"
    password = "correct-horse-battery-staple"  # noqa: S105 - a test registry's password

    def _write_config(self) -> None:
        super()._write_config()
        htpasswd = self.data_dir / "htpasswd"
        hashed = bcrypt.hashpw(self.password.encode(), bcrypt.gensalt(rounds=4)).decode()
        htpasswd.write_text(f"{self.username}:{hashed}\n")
        with self.config_path.open("a") as config:
            config.write(f'auth: {{htpasswd: {{realm: test, path: "{htpasswd}"}}}}\n')


class TlsRegistry(Registry):
    """A registry serving HTTPS under this machine's name, with a certificate from its own CA.

    The name is not a loopback name (``localhost``, ``127.0.0.1``), so clients speak HTTPS
    to it, and no client trusts the CA unless pointed at ``ca_file``.
    """

    ca_name = "metrics-api test CA"

    def __init__(self, data_dir: Path, port: int, *, owns_data_dir: bool) -> None:
        """Pick the name: this machine's, which must not be one clients treat as loopback."""
        super().__init__(data_dir, port, owns_data_dir=owns_data_dir)
        self.name = socket.gethostname()
        if self.name in {"localhost", ""}:
            raise RuntimeError(
                f"the machine's name is {self.name!r}: a TLS test registry needs a name that "
                "clients do not treat as loopback; set a hostname that /etc/hosts resolves"
            )
        self.ca_file = data_dir / "ca.pem"

    @property
    def san(self) -> str:
        """The certificate's subject alternative name."""
        return f"DNS:{self.name}"

    @property
    def host(self) -> str:
        """``NAME:PORT``: a name clients reach over HTTPS."""
        return f"{self.name}:{self.port}"

    @property
    def url(self) -> str:
        """``https://NAME:PORT``."""
        return f"https://{self.host}"

    def _probe_client(self) -> httpx.Client:
        return httpx.Client(
            trust_env=False, timeout=2.0, verify=ssl.create_default_context(cafile=self.ca_file)
        )

    def _write_config(self) -> None:
        super()._write_config()
        ca_key, key, csr, cert = (self.data_dir / n for n in ("ca.key", "key.pem", "csr", "cert"))
        if not cert.exists():
            run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                 "-keyout", str(ca_key), "-out", str(self.ca_file),
                 "-subj", f"/CN={self.ca_name}"])  # fmt: skip
            run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                 "-out", str(csr), "-subj", f"/CN={self.name}"])  # fmt: skip
            extensions = self.data_dir / "san.cnf"
            extensions.write_text(f"subjectAltName={self.san}\n")
            run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(self.ca_file),
                 "-CAkey", str(ca_key), "-CAcreateserial", "-days", "2",
                 "-extfile", str(extensions), "-out", str(cert)])  # fmt: skip
        config = self.config_path.read_text().replace(
            f'http: {{addr: "{self.host}"}}',
            f'http: {{addr: "{self.host}", tls: {{certificate: "{cert}", key: "{key}"}}}}',
        )
        self.config_path.write_text(config)


class LoopbackTlsRegistry(TlsRegistry):
    """An HTTPS registry on 127.0.0.1, as an SSH tunnel or a port-forward presents one."""

    def __init__(self, data_dir: Path, port: int, *, owns_data_dir: bool) -> None:
        """Listen on loopback, with a certificate for the loopback address."""
        Registry.__init__(self, data_dir, port, owns_data_dir=owns_data_dir)
        self.name = "127.0.0.1"
        self.ca_file = data_dir / "ca.pem"

    @property
    def san(self) -> str:
        """The certificate's subject alternative name: the loopback address."""
        return "IP:127.0.0.1"
