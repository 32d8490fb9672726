"""Why a request got no answer, worded for the user, and whether another attempt could help.

httpx wraps httpcore, which wraps the OS's error, and its own message is often empty (a
timeout) or says nothing a user can act on. What cannot heal (a name that does not resolve,
plain HTTP where TLS was expected, a certificate that is not trusted) is raised at once, so
no job waits through retries that cannot succeed. A request httpx refused to send as
malformed is worded by its kind alone: h11 quotes the offending header, which may be the
Authorization one.
"""

import socket
import ssl
from typing import Final

import anyio
import httpx

from metrics_api.oci.defaults import CONNECT_TIMEOUT
from metrics_api.oci.errors import RegistryError, Remedy
from metrics_api.oci.registry.responses import shown_url

PROXY_ADVICE: Final = (
    "check the proxy that HTTPS_PROXY or HTTP_PROXY names, or add the registry to NO_PROXY"
)

# How OpenSSL words an answer that is no TLS record at all: a plain-HTTP server answering
# the handshake (``HTTP/1.1 400 ...``). It never heals, unlike a connection cut mid-way.
_NOT_TLS_REASONS: Final = frozenset({"WRONG_VERSION_NUMBER"})


def root_cause(error: BaseException) -> BaseException:
    """The exception at the bottom of a chain (httpx wraps httpcore, which wraps the OS's)."""
    while (inner := error.__cause__ or error.__context__) is not None:
        error = inner
    return error


def worded(error: httpx.HTTPError) -> str:
    """``Kind: message`` of an httpx error; the kind alone where the message may quote a header.

    h11's ``LocalProtocolError`` quotes the header it refused, token and all.
    """
    if isinstance(error, httpx.LocalProtocolError) or not str(error):
        return type(error).__name__
    return f"{type(error).__name__}: {error}"


def not_sent(error: httpx.RequestError, what: str) -> RegistryError:
    """The error for a request httpx gave up on without a transport failure; never retried.

    Too many redirects (a loop), or a body that does not decode as its
    ``Content-Encoding`` says: the same request would meet the same answer.
    """
    try:
        shown = f"{error.request.method} {shown_url(error.request.url)}"
    except RuntimeError:  # httpx did not say which request
        shown = "the request"
    if isinstance(error, httpx.TooManyRedirects):
        return RegistryError(
            f"{what}: expected an answer, found that the server redirected too many times "
            f"(last to {shown}); check the registry's address and its redirects"
        )
    if isinstance(error, httpx.DecodingError):
        return RegistryError(
            f"{what}: expected a body encoded as its Content-Encoding says, found one that "
            f"does not decode ({shown}); check the registry and any proxy before it"
        )
    return RegistryError(
        f"{what}: {shown} failed ({worded(error)}); check the registry's address and logs"
    )


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
        return worded(error)

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
        shown = shown_url(url)
        root = root_cause(error)
        host = f"{url.host}:{url.port}" if url.port else url.host
        if isinstance(error, httpx.LocalProtocolError):
            raise RegistryError(
                f"{what}: {method} {shown} could not be sent: expected header values HTTP "
                "allows, found one httpx refused (LocalProtocolError; a newline or other "
                "control character); check the credentials and options given for this registry"
            ) from None
        if isinstance(error, httpx.UnsupportedProtocol):
            raise RegistryError(
                f"{what}: expected an http or https URL, found {method} {shown} (the registry "
                "sent us there); check the registry's redirects and storage settings"
            ) from None
        if isinstance(root, ssl.SSLError) and root.reason in _NOT_TLS_REASONS:
            raise RegistryError(
                f"{what}: {method} {shown} failed: {host} does not speak TLS on that port "
                f"({type(error).__name__}: {error}); check that {host} is reachable over HTTPS",
                remedy=Remedy.PLAIN_HTTP,
                host=host,
            ) from None
        if isinstance(root, socket.gaierror) and isinstance(error, httpx.ProxyError):
            raise RegistryError(
                f"{what}: {method} {shown} failed: {error}: its name does not resolve "
                f"({root.strerror or root}); {PROXY_ADVICE}",
                host=host,
            ) from None
        if isinstance(root, socket.gaierror):
            raise RegistryError(
                f"{what}: {method} {shown} failed: the name {url.host} does not resolve "
                f"({root.strerror or root}); check the registry's name and this machine's DNS",
                host=host,
            ) from None
        if isinstance(root, ssl.SSLCertVerificationError):
            from metrics_api.oci.registry.certificates import peer_issuer  # noqa: PLC0415 - untrusted only

            issuer = ""
            with anyio.move_on_after(self._timeout.connect or CONNECT_TIMEOUT):
                issuer = await peer_issuer(url.host, url.port or 443)
            raise RegistryError(
                f"{what}: {method} {shown} failed: the TLS certificate of {host} is not trusted "
                f"({root.verify_message or root.reason})"
                + (f"; it was issued by {issuer}" if issuer else "")
                + "; needed: trust in the authority that issued it, or a certificate for the "
                "registry from one this machine trusts",
                remedy=Remedy.TRUST,
                host=host,
            ) from None
