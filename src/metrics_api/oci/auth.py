"""Registry credentials and the ``WWW-Authenticate`` challenge they answer.

Credentials come from the caller or from the Docker config file's ``auths``; passwords
are ``SecretStr`` so no repr, log line or report can show them.
"""

import base64
import binascii
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, SecretStr

from metrics_api.oci.errors import InvalidInputError
from metrics_api.oci.reference import DOCKER_HUB, DOCKER_HUB_API

_DOCKER_HUB_KEYS: Final = ("https://index.docker.io/v1/", "index.docker.io", DOCKER_HUB)
_CHALLENGE_PARAM: Final = re.compile(r'(\w+)="([^"]*)"')


class Credentials(BaseModel):
    """A username and a secret (a password or an identity token)."""

    model_config = ConfigDict(frozen=True)

    username: str
    password: SecretStr

    def basic_header(self) -> str:
        """The ``Authorization`` header value for HTTP basic auth."""
        pair = f"{self.username}:{self.password.get_secret_value()}".encode()
        return "Basic " + base64.b64encode(pair).decode()


@dataclass(frozen=True)
class Challenge:
    """A parsed ``WWW-Authenticate`` header."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)


def parse_challenge(header: str) -> Challenge:
    """Parse ``Bearer realm="...",service="...",scope="..."`` (or ``Basic realm=...``)."""
    scheme, _, rest = header.strip().partition(" ")
    return Challenge(scheme=scheme.lower(), params=dict(_CHALLENGE_PARAM.findall(rest)))


def _host_of(key: str) -> str:
    """Reduce a Docker config ``auths`` key (which may be a URL) to host[:port]."""
    host = key.split("://", 1)[-1].split("/", 1)[0]
    return DOCKER_HUB_API if key in _DOCKER_HUB_KEYS or host == "index.docker.io" else host


def docker_config_path() -> Path:
    """Where Docker keeps its config: ``$DOCKER_CONFIG/config.json`` or ``~/.docker``."""
    base = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    return Path(base) / "config.json"


def load_docker_config(path: Path) -> dict[str, Credentials]:
    """Read ``auths`` from a Docker config file; a missing file means no credentials."""
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as error:
        raise InvalidInputError(
            f"expected a readable JSON Docker config at {path}, found an error ({error}); "
            "fix the file or point DOCKER_CONFIG elsewhere"
        ) from None
    result: dict[str, Credentials] = {}
    for key, entry in (document.get("auths") or {}).items():
        if not isinstance(entry, dict):
            continue
        username, password = entry.get("username"), entry.get("password")
        if entry.get("auth"):
            try:
                username, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise InvalidInputError(
                    f"expected base64 'user:password' in {path} auths[{key!r}].auth, found "
                    "something else; run `docker login` again"
                ) from None
        if entry.get("identitytoken"):
            username, password = "<token>", entry["identitytoken"]
        if username and password:
            result[_host_of(key)] = Credentials(username=username, password=SecretStr(password))
    return result


@dataclass(frozen=True)
class CredentialStore:
    """Credentials by registry host; explicit ones win over the Docker config file."""

    by_host: Mapping[str, Credentials] = field(default_factory=dict)

    @classmethod
    def from_sources(
        cls, explicit: Mapping[str, Credentials] | None = None, docker_config: Path | None = None
    ) -> "CredentialStore":
        """Merge the Docker config file (when given) with explicit credentials."""
        merged = load_docker_config(docker_config) if docker_config else {}
        merged.update({_host_of(host): value for host, value in (explicit or {}).items()})
        return cls(by_host=merged)

    def for_host(self, host: str) -> Credentials | None:
        """The credentials for ``host`` (host[:port] as used in requests), if any."""
        return self.by_host.get(host)
