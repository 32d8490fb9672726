"""Why a request got no answer, worded for the user, and whether another attempt could help.

httpx wraps httpcore, which wraps the OS's error, and its own message is often empty (a
timeout) or says nothing a user can act on. What cannot heal (a name that does not resolve,
plain HTTP where TLS was expected, a certificate that is not trusted) is raised at once, so
no job waits through retries that cannot succeed.
"""

import socket
import ssl
from typing import Final

import anyio
import httpx

from metrics_api.oci.errors import RegistryError, Remedy
from metrics_api.oci.registry.certificates import peer_issuer

# How OpenSSL words an answer that is no TLS record at all: a plain-HTTP server answering
# the handshake (``HTTP/1.1 400 ...``). It never heals, unlike a connection cut mid-way.
_NOT_TLS_REASONS: Final = frozenset({"WRONG_VERSION_NUMBER"})


def _root_cause(error: BaseException) -> BaseException:
    """The exception at the bottom of a chain (httpx wraps httpcore, which wraps the OS's)."""
    while (inner := error.__cause__ or error.__context__) is not None:
        error = inner
    return error


class TransportFailures:
    """Words transport failures in terms of the timeouts requests are sent with."""

    def __init__(self, timeout: httpx.Timeout) -> None:
        """``timeout``: the limits a timeout's message names."""
        self._timeout = timeout

    async def cause(self, error: httpx.TransportError, what: str) -> str:
        """Why a request failed in transport, worded for the user.

        Raises at once for what no new attempt can heal: a name that does not resolve, a
        server that does not speak TLS, a certificate that is not trusted.
        """
        await self._refuse_what_cannot_heal(error, what)
        if isinstance(error, httpx.TimeoutException):
            return self._timeout_cause(error)
        return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__

    def _timeout_cause(self, error: httpx.TimeoutException) -> str:
        """What a timeout means, in seconds: httpx's own message is often empty."""
        if isinstance(error, httpx.ConnectTimeout):
            return f"no connection within {self._timeout.connect:g} s"
        if isinstance(error, httpx.WriteTimeout):
            return f"the request could not be sent within {self._timeout.write:g} s"
        if isinstance(error, httpx.PoolTimeout):
            return f"no free connection within {self._timeout.pool:g} s"
        return f"no answer within {self._timeout.read:g} s"

    async def _refuse_what_cannot_heal(self, error: httpx.TransportError, what: str) -> None:
        """Raise at once for what no other attempt would change.

        A name that does not resolve, a server that does not speak TLS (plain HTTP answering
        the handshake), a certificate that is not trusted.
        """
        method, url = error.request.method, error.request.url
        root = _root_cause(error)
        host = f"{url.host}:{url.port}" if url.port else url.host
        if isinstance(root, ssl.SSLError) and root.reason in _NOT_TLS_REASONS:
            raise RegistryError(
                f"{what}: {method} {url} failed: {host} does not speak TLS on that port "
                f"({type(error).__name__}: {error}); check that {host} is reachable over HTTPS",
                remedy=Remedy.PLAIN_HTTP,
                host=host,
            ) from None
        if isinstance(root, socket.gaierror):
            raise RegistryError(
                f"{what}: {method} {url} failed: the name {url.host} does not resolve "
                f"({root.strerror or root}); check the registry's name and this machine's DNS",
                host=host,
            ) from None
        if isinstance(root, ssl.SSLCertVerificationError):
            issuer = ""
            with anyio.move_on_after(self._timeout.connect or 10.0):
                issuer = await peer_issuer(url.host, url.port or 443)
            raise RegistryError(
                f"{what}: {method} {url} failed: the TLS certificate of {host} is not trusted "
                f"({root.verify_message or root.reason})"
                + (f"; it was issued by {issuer}" if issuer else "")
                + "; needed: trust in the authority that issued it, or a certificate for the "
                "registry from one this machine trusts",
                remedy=Remedy.TRUST,
                host=host,
            ) from None
