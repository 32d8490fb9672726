"""What a registry's answer says went wrong, for the messages the user reads.

A registry explains a refusal in an ``errors`` array (distribution spec, "error codes"):
its codes name the cause better than the status does, so every message about a failed
answer quotes them, and the retry decision reads them too.
"""

import httpx

from metrics_api.oci.errors import RegistryError


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


def describe(response: httpx.Response) -> str:
    """``HTTP 404 (BLOB_UNKNOWN: ...)``: the status and the registry's own error codes."""
    errors = registry_errors(response)
    detail = "; ".join(f"{code}: {message}" for code, message in errors)
    return f"HTTP {response.status_code}" + (f" ({detail})" if detail else "")


class BodyTooLargeError(RegistryError):
    """An answer whose body exceeds the request's ``limit``, refused unread.

    Only the caller knows what it expected (a manifest), so it words the error the user
    sees from ``response`` and ``found``.
    """

    def __init__(self, response: httpx.Response, found: str, limit: int) -> None:
        """``found``: what the body did (announced its size, or sent more than ``limit``)."""
        request = response.request
        super().__init__(f"{request.method} {request.url} {found}; at most {limit} bytes read")
        self.response = response
        self.found = found
        self.limit = limit
