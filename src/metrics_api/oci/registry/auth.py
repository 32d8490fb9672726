"""Registry credentials and the ``WWW-Authenticate`` challenge they answer.

Credentials come from the caller or from the Docker config file, read as Docker reads it:
``credHelpers`` for the host, else ``credsStore``, else ``auths``. Helpers run only for a
registry a request actually needs. Secrets are ``SecretStr`` so no repr, log line or report
can show them.
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
from metrics_api.oci.spec.reference import DOCKER_HUB, DOCKER_HUB_API

# Docker's name for Docker Hub in its config file and when it asks a credential helper.
DOCKER_HUB_SERVER: Final = "https://index.docker.io/v1/"
# The username under which Docker stores an identity token rather than a password.
IDENTITY_TOKEN_USERNAME: Final = "<token>"  # noqa: S105 - a marker, not a secret
_DOCKER_HUB_KEYS: Final = (DOCKER_HUB_SERVER, "index.docker.io", DOCKER_HUB)
_CHALLENGE_PARAM: Final = re.compile(r'(\w+)="([^"]*)"')


class Credentials(BaseModel):
    """A username and a secret (a password or an identity token), and where they came from.

    An identity token (``docker login`` to a registry with an OAuth2 token service) is an
    OAuth2 refresh token: ``identity_token`` says so. It is also the ``password`` (with the
    username ``<token>``), so a client that only knows basic auth sends what it always did.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    username: str
    password: SecretStr
    identity_token: SecretStr | None = None
    source: str = ""  # for messages: "auths in PATH", "docker-credential-pass", ...

    @classmethod
    def from_identity_token(cls, token: str, source: str) -> "Credentials":
        """Credentials for a Docker identity token."""
        secret = SecretStr(token)
        return cls(
            username=IDENTITY_TOKEN_USERNAME, password=secret, identity_token=secret, source=source
        )

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


def helper_server_url(host: str) -> str:
    """The server URL Docker files a registry's credentials under (Docker Hub's is a URL)."""
    return DOCKER_HUB_SERVER if host == DOCKER_HUB_API else host


@dataclass(frozen=True)
class DockerConfig:
    """What a Docker config file says about credentials: ``auths`` and the helpers to ask."""

    path: Path
    auths: Mapping[str, Credentials] = field(default_factory=dict)
    creds_store: str = ""
    cred_helpers: Mapping[str, str] = field(default_factory=dict)

    def credentials_for(self, host: str) -> Credentials | None:
        """Docker's lookup: ``credHelpers[host]``, else ``credsStore``, else ``auths``.

        As in Docker, a helper that applies is the only source: when it has nothing for
        the host, the registry is asked anonymously, whatever ``auths`` holds.
        """
        if host in self.cred_helpers:
            helper, source = self.cred_helpers[host], f"credHelpers in {self.path}"
        else:
            helper, source = self.creds_store, f"credsStore in {self.path}"
        if not helper:  # Docker too treats an empty helper name as none
            return self.auths.get(host)
        from metrics_api.oci.registry.credential_helper import (  # noqa: PLC0415 - few jobs ask a helper
            ask_helper,
            program_name,
        )

        answer = ask_helper(helper, helper_server_url(host), host=host, source=source)
        if answer is None:
            return None
        program = program_name(helper, source)
        if answer.username == IDENTITY_TOKEN_USERNAME:
            return Credentials.from_identity_token(answer.secret.get_secret_value(), program)
        return Credentials(username=answer.username, password=answer.secret, source=program)


def load_docker_config(path: Path) -> DockerConfig:
    """Read a Docker config file; a missing file means no credentials at all."""
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        return DockerConfig(path)
    except (OSError, json.JSONDecodeError) as error:
        raise InvalidInputError(
            f"expected a readable JSON Docker config at {path}, found an error ({error}); "
            "fix the file or point DOCKER_CONFIG elsewhere"
        ) from None
    if not isinstance(document, dict):
        raise InvalidInputError(
            f"expected a JSON object in the Docker config {path}, found "
            f"{type(document).__name__}; fix the file or point DOCKER_CONFIG elsewhere"
        )
    creds_store = document.get("credsStore") or ""
    cred_helpers = document.get("credHelpers") or {}
    if not isinstance(creds_store, str):
        raise InvalidInputError(
            f"expected credsStore in {path} to be a helper name like 'pass', found "
            f"{type(creds_store).__name__}; fix the Docker config"
        )
    if not isinstance(cred_helpers, dict) or not all(
        isinstance(name, str) for name in cred_helpers.values()
    ):
        raise InvalidInputError(
            f"expected credHelpers in {path} to map registries to helper names like "
            '{"registry.example.com": "pass"}, found something else; fix the Docker config'
        )
    return DockerConfig(
        path=path,
        auths=_read_auths(f"auths in {path}", document.get("auths") or {}),
        creds_store=creds_store,
        cred_helpers={_host_of(key): name for key, name in cred_helpers.items()},
    )


def auths_from_text(text: str, where: str) -> dict[str, Credentials]:
    """The ``auths`` of a Docker config given as text (a secret that never touches disk)."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInputError(
            f"expected {where} to be a Docker config.json, found text that is not JSON "
            f"({error.msg} at line {error.lineno})"
        ) from None
    if not isinstance(document, dict):
        raise InvalidInputError(
            f"expected {where} to be a Docker config.json (a JSON object with auths), "
            f"found {type(document).__name__}"
        )
    return _read_auths(f"auths in {where}", document.get("auths") or {})


def _read_auths(source: str, auths: object) -> dict[str, Credentials]:
    """The plain-text ``auths`` entries (``auth``, ``username``/``password``, tokens)."""
    if not isinstance(auths, dict):
        return {}
    result: dict[str, Credentials] = {}
    for key, entry in auths.items():
        if not isinstance(entry, dict):
            continue
        username, password = entry.get("username"), entry.get("password")
        if entry.get("auth"):
            try:
                username, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise InvalidInputError(
                    f"expected base64 'user:password' in {source}[{key!r}].auth, found "
                    "something else; run `docker login` again"
                ) from None
        if entry.get("identitytoken"):
            result[_host_of(key)] = Credentials.from_identity_token(entry["identitytoken"], source)
        elif username and password:
            result[_host_of(key)] = Credentials(
                username=username, password=SecretStr(password), source=source
            )
    return result


@dataclass(frozen=True)
class CredentialStore:
    """Credentials by registry host: explicit ones first, then the Docker config file.

    A credential helper runs only when a request to its registry needs credentials, and
    once per registry: asking one may mean a keyring prompt or a cloud API call.
    """

    by_host: Mapping[str, Credentials] = field(default_factory=dict)
    docker_config: DockerConfig | None = None
    _found: dict[str, Credentials | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def from_sources(
        cls, explicit: Mapping[str, Credentials] | None = None, docker_config: Path | None = None
    ) -> "CredentialStore":
        """Explicit credentials, and the Docker config file when one is given."""
        return cls(
            by_host={_host_of(host): value for host, value in (explicit or {}).items()},
            docker_config=load_docker_config(docker_config) if docker_config else None,
        )

    def for_host(self, host: str) -> Credentials | None:
        """The credentials for ``host`` (host[:port] as used in requests), if any."""
        if host in self.by_host:
            return self.by_host[host]
        if self.docker_config is None:
            return None
        if host not in self._found:
            self._found[host] = self.docker_config.credentials_for(host)
        return self._found[host]
