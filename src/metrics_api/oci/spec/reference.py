"""Image references: ``[registry[:port]/]namespace/repository[:tag][@digest]``.

Parsing follows the grammar of distribution's ``reference`` package and Docker's
defaults: a first component with a dot, a colon or equal to ``localhost`` is a registry;
otherwise the registry is Docker Hub and a one-component name lives under ``library/``.
"""

import ipaddress
import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import cache
from typing import Final

from metrics_api.oci.errors import InvalidInputError, Remedy
from metrics_api.oci.spec.digest import validate_digest

DOCKER_HUB: Final = "docker.io"
DOCKER_HUB_API: Final = "registry-1.docker.io"
EXPECTED_FORM: Final = "<registry>/<namespace>/<repository>:<tag|@digest>"

_COMPONENT: Final = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG: Final = re.compile(r"[\w][\w.-]{0,127}")
_MAX_PORT: Final = 65535
_REGISTRY: Final = re.compile(
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
)


@dataclass(frozen=True)
class Reference:
    """A parsed image reference; ``tag`` and ``digest`` may both be empty (a repository)."""

    registry: str
    repository: str
    tag: str = ""
    digest: str = ""

    @property
    def host(self) -> str:
        """The host[:port] to send HTTP requests to."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def repository_name(self) -> str:
        """``registry/repository``, without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def manifest_reference(self) -> str:
        """What goes after ``/manifests/``: the digest when pinned, else the tag."""
        return self.digest or self.tag

    def with_tag(self, tag: str) -> "Reference":
        """The same repository at ``tag``, no digest."""
        return Reference(self.registry, self.repository, tag=tag)

    def with_digest(self, digest: str) -> "Reference":
        """The same repository pinned to ``digest``, no tag."""
        return Reference(self.registry, self.repository, digest=validate_digest(digest))

    def same_repository(self, other: "Reference") -> bool:
        """True when both name the same repository on the same registry."""
        return (self.registry, self.repository) == (other.registry, other.repository)

    def __str__(self) -> str:
        text = self.repository_name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def _invalid(text: str, why: str) -> InvalidInputError:
    return InvalidInputError(
        f"expected an image reference of the form {EXPECTED_FORM}, found {text!r}: {why}"
    )


def _split_registry(text: str, remainder: str) -> tuple[str, str]:
    registry, _, path = remainder.partition("/")
    if not path or not ("." in registry or ":" in registry or registry == "localhost"):
        return DOCKER_HUB, remainder
    if not _REGISTRY.fullmatch(registry):
        raise _invalid(text, f"{registry!r} is not a valid registry host[:port]")
    port = registry.rpartition("]")[2].rpartition(":")[2] if ":" in registry else ""
    if port and not 1 <= int(port) <= _MAX_PORT:
        raise _invalid(text, f"the port {port} is out of range (expected 1 to {_MAX_PORT})")
    return registry, path


def _split_tag(text: str, path: str) -> tuple[str, str]:
    colon = path.rfind(":")
    if colon <= path.rfind("/"):
        return path, ""
    tag = path[colon + 1 :]
    if not _TAG.fullmatch(tag):
        raise _invalid(text, f"{tag!r} is not a valid tag (letters, digits, '_', '.', '-')")
    return path[:colon], tag


def parse_reference(text: str) -> Reference:
    """Parse ``text`` or raise an error that shows the expected form."""
    scheme, sep, rest = text.partition("://")
    if sep:
        error = _invalid(text, "a reference has no URL scheme: drop it")
        if scheme == "http":
            error.remedy, error.host = Remedy.PLAIN_HTTP, rest.partition("/")[0]
        raise error
    remainder, _, digest = text.partition("@")
    if digest:
        try:
            validate_digest(digest)
        except InvalidInputError as error:
            raise _invalid(text, str(error)) from None
    registry, path = _split_registry(text, remainder)
    path, tag = _split_tag(text, path)
    if not path:
        raise _invalid(text, "the repository name is empty")
    for component in path.split("/"):
        if not _COMPONENT.fullmatch(component):
            raise _invalid(
                text,
                f"{component!r} is not a valid repository path component "
                "(lowercase letters and digits, separated by '.', '_', '__' or '-')",
            )
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    return Reference(registry=registry, repository=path, tag=tag, digest=digest)


@cache
def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals, with or without a port."""
    name = host
    if name.startswith("["):
        name = name[1 : name.index("]")]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def plain_http_first(host: str, insecure_registries: Collection[str]) -> bool:
    """Docker's rule: loopback registries and those named insecure are tried over plain HTTP."""
    return is_loopback(host) or host in insecure_registries
