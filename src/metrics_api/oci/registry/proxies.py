"""Which proxy a registry is reached through: HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY.

Read as Go programs read them (crane, regctl and Docker are Go programs): the upper- or
lower-case name, a proxy without a scheme taken as ``http://``, and loopback registries
(``localhost``, 127.0.0.0/8, ``::1``) never proxied. NO_PROXY lists hosts (``HOST`` or
``HOST:PORT``), domains (``example.com`` and ``.example.com`` also match their
subdomains), networks (``10.0.0.0/8``), or ``*`` for every host.
"""

import ipaddress
import os
from collections.abc import Mapping
from typing import NamedTuple

import httpx

from metrics_api.oci.errors import InvalidInputError
from metrics_api.oci.spec.reference import is_loopback

_SCHEMES = ("http", "https")


def _variable(environment: Mapping[str, str], name: str) -> tuple[str, str]:
    """The variable's value and the name it was found under ('' when unset)."""
    for found in (name, name.lower()):
        value = environment.get(found, "").strip()
        if value:
            return value, found
    return "", name


def _proxy(environment: Mapping[str, str], name: str) -> str | None:
    value, found = _variable(environment, name)
    if not value:
        return None
    text = value if "://" in value else f"http://{value}"
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL:
        url = None
    if url is None or url.scheme not in _SCHEMES or not url.host:
        kind = (
            f"one of scheme {url.scheme}"
            if url is not None and url.host
            else "one that does not parse"
        )
        # Not quoted: a proxy URL may carry a user and password.
        raise InvalidInputError(
            f"expected ${found} to be an http or https proxy URL (http://HOST:PORT), found "
            f"{kind}; correct it, or unset it to reach registries directly"
        )
    return text


class Proxies(NamedTuple):
    """The proxy for plain HTTP and for HTTPS, and the hosts reached without one."""

    http: str | None = None
    https: str | None = None
    bypass: tuple[str, ...] = ()

    @classmethod
    def from_environment(cls, environment: Mapping[str, str] = os.environ) -> "Proxies":
        """As the environment sets them; a proxy URL that cannot serve is refused here."""
        every = _proxy(environment, "ALL_PROXY")
        listed, _ = _variable(environment, "NO_PROXY")
        return cls(
            http=_proxy(environment, "HTTP_PROXY") or every,
            https=_proxy(environment, "HTTPS_PROXY") or every,
            bypass=tuple(entry.strip().lower() for entry in listed.split(",") if entry.strip()),
        )

    def for_url(self, url: httpx.URL) -> str | None:
        """The proxy ``url`` goes through, or None to connect to it directly."""
        proxy = self.https if url.scheme == "https" else self.http
        if proxy is None or is_loopback(url.host) or self._bypassed(url):
            return None
        return proxy

    def _bypassed(self, url: httpx.URL) -> bool:
        host = url.host.lower()
        port = url.port or (443 if url.scheme == "https" else 80)
        return any(_listed(entry, host, port) for entry in self.bypass)


def _listed(entry: str, host: str, port: int) -> bool:
    """Whether a NO_PROXY entry names ``host`` (on ``port``)."""
    if entry == "*":
        return True
    name, wanted = _split_port(entry)
    if wanted is not None and wanted != port:
        return False
    if "/" in name:
        try:
            return ipaddress.ip_address(host) in ipaddress.ip_network(name, strict=False)
        except ValueError:
            return False
    name = name.removeprefix("*").removeprefix(".")
    return host == name or host.endswith(f".{name}")


def _split_port(entry: str) -> tuple[str, int | None]:
    """``HOST[:PORT]``, ``[V6][:PORT]`` or a bare IPv6 address."""
    if entry.startswith("["):
        name, _, rest = entry[1:].partition("]")
        port = rest.removeprefix(":")
        return name, int(port) if port.isdigit() else None
    name, colon, port = entry.rpartition(":")
    if colon and ":" not in name and port.isdigit():
        return name, int(port)
    return entry, None
