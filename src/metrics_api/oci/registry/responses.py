"""What a registry's answer says went wrong, for the messages the user reads.

A registry explains a refusal in an ``errors`` array (distribution spec, "error codes"):
its codes name the cause better than the status does, so every message about a failed
answer quotes them, and the retry decision reads them too. What a message quotes is
cleaned first: a URL loses its userinfo and query (a pre-signed storage URL's signature),
and a body that echoes the request's credentials has them replaced by ``***``.
"""

import base64
import binascii
from collections.abc import Iterable
from typing import Final

import httpx

from metrics_api.oci.errors import RegistryError

HIDDEN: Final = "***"
# Shorter pieces are not hidden: a three-letter password would star out every word.
_SHORTEST_SECRET: Final = 4


def shown_url(url: httpx.URL | str) -> str:
    """``scheme://host[:port]/path`` of ``url``, for messages: no userinfo, query or fragment.

    After a redirect a request's URL may be a pre-signed storage URL (its signature is in
    the query) or carry ``user:password@``.
    """
    try:
        parsed = httpx.URL(url) if isinstance(url, str) else url
    except httpx.InvalidURL:
        return "(a URL that does not parse)"
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    port = f":{parsed.port}" if parsed.port is not None else ""
    return f"{parsed.scheme}://{host}{port}{parsed.path}"


def _pieces(authorization: str) -> list[str]:
    """An Authorization value, its credential part and, for Basic, what that decodes to."""
    scheme, _, credential = authorization.strip().partition(" ")
    pieces = [authorization, credential.strip()]
    if scheme.lower() == "basic":
        try:
            pair = base64.b64decode(credential.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            pair = ""
        pieces += [pair, pair.partition(":")[2]]
    return pieces


def sent_secrets(response: httpx.Response) -> list[str]:
    """What of the request's own Authorization a server could echo back in its answer."""
    try:
        authorization = response.request.headers.get("Authorization")
    except RuntimeError:  # a response made here, not received
        return []
    return _pieces(authorization) if authorization else []


def hide_secrets(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each of ``secrets`` (longest first) replaced by ``***``."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= _SHORTEST_SECRET:
            text = text.replace(secret, HIDDEN)
    return text


def registry_errors(response: httpx.Response) -> list[tuple[str, str]]:
    """The ``errors`` array of a distribution error body as (code, message) pairs."""
    try:
        body = response.json()
    except ValueError:
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return []
    return [
        (str(item.get("code", "")), str(item.get("message", "")))
        for item in errors
        if isinstance(item, dict)
    ]


def describe(response: httpx.Response, secrets: Iterable[str] = ()) -> str:
    """``HTTP 404 (BLOB_UNKNOWN: ...)``: the status and the registry's own error codes.

    A server may quote the credentials it was sent (``denied for Basic dTpw...``): those
    of the request, and ``secrets`` (a token sent in the body), are hidden.
    """
    errors = registry_errors(response)
    detail = "; ".join(f"{code}: {message}" for code, message in errors)
    text = f"HTTP {response.status_code}" + (f" ({detail})" if detail else "")
    return hide_secrets(text, [*sent_secrets(response), *secrets])


class BodyTooLargeError(RegistryError):
    """An answer whose body exceeds the request's ``limit``, refused unread.

    Only the caller knows what it expected (a manifest), so it words the error the user
    sees from ``response`` and ``found``.
    """

    def __init__(self, response: httpx.Response, found: str, limit: int) -> None:
        """``found``: what the body did (announced its size, or sent more than ``limit``)."""
        request = response.request
        super().__init__(
            f"{request.method} {shown_url(request.url)} {found}; at most {limit} bytes read"
        )
        self.response = response
        self.found = found
        self.limit = limit
