"""The core's command line as CI runs it, and the variants the integration tests push."""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import bcrypt

from .registry import Registry

CLI_TIMEOUT = 120


@dataclass(frozen=True)
class CliResult:
    """What `python -m metrics_api.oci ... --json` did."""

    code: int
    report: dict[str, Any]
    stderr: str


def run_cli(*args: str, env: dict[str, str] | None = None) -> CliResult:
    """Run the core's command line as CI would, always with --json."""
    proc = subprocess.run(
        [sys.executable, "-m", "metrics_api.oci", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        env={**os.environ, **(env or {})},
        check=False,
    )
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
