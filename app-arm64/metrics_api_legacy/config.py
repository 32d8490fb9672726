"""Configuration from the environment, read once at start."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from typing import TYPE_CHECKING

from metrics_api_legacy import SERVICE_NAME

if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_PORT = 8080
DEFAULT_VERSION = "2.0.0"
DEFAULT_REVISION = "unknown"
MAX_PORT = 65535

# platform.machine() names -> the GOARCH names the Go implementation reports.
_ARCH_NAMES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass(frozen=True)
class Config:
    """What the service needs from its environment."""

    port: int
    version: str
    revision: str


def load_config(environ: Mapping[str, str]) -> Config:
    """Read PORT, METRICS_API_VERSION and METRICS_API_REVISION; empty means default."""
    raw_port = environ.get("PORT") or str(DEFAULT_PORT)
    if not raw_port.isascii() or not raw_port.isdigit() or not 1 <= int(raw_port) <= MAX_PORT:
        message = f"PORT must be a number from 1 to {MAX_PORT}, got {raw_port!r}"
        raise ValueError(message)
    return Config(
        port=int(raw_port),
        version=environ.get("METRICS_API_VERSION") or DEFAULT_VERSION,
        revision=environ.get("METRICS_API_REVISION") or DEFAULT_REVISION,
    )


def machine_arch(machine: str | None = None) -> str:
    """Return the architecture this process runs on, named as Go's runtime.GOARCH."""
    name = (machine if machine is not None else platform.machine()).lower()
    return _ARCH_NAMES.get(name, name)


def identity(config: Config) -> dict[str, object]:
    """Body of GET /version; the key order is part of the contract."""
    return {
        "service": SERVICE_NAME,
        "version": config.version,
        "revision": config.revision,
        "implementation": "python",
        "os": "linux",
        "arch": machine_arch(),
    }
