"""The OIDC identity token a keyless signature is bought with, read right before signing.

GitHub Actions' tokens live minutes and a release builds first, so a token is asked for
twice: once before anything is built (a token that cannot work fails the release then),
and again right before signing, so the one Fulcio sees is fresh. A token is checked
without its signature (Fulcio checks that): it must name an issuer, have the audience
Sigstore asks for and not be expired. Its text never enters a message.
"""

import base64
import binascii
import json
import time
from dataclasses import dataclass, field
from typing import Final, Protocol

import httpx

from metrics_api.oci.errors import InvalidInputError, SigningError
from metrics_api.oci.spec.times import rfc3339

AUDIENCE: Final = "sigstore"
# A token must outlive the certificate request by this much (Fulcio allows little skew).
MARGIN_SECONDS: Final = 10
REQUEST_TIMEOUT: Final = 30.0


class TokenSource(Protocol):
    """Where tokens come from: ``what`` names it in errors, ``read`` gives a fresh one."""

    @property
    def what(self) -> str:
        """How messages name it: a flag, or GitHub Actions' token endpoint."""
        ...

    async def read(self) -> str:
        """The token as it is now (asked for anew on every call)."""
        ...


@dataclass(frozen=True)
class Claims:
    """What a token says about itself, unverified: enough to refuse one that cannot work."""

    issuer: str
    subject: str
    expires: int


def _payload(token: str, what: str) -> dict[str, object]:
    parts = token.strip().split(".")
    claims = None
    if len(parts) == 3:  # noqa: PLR2004 - header.payload.signature
        body = parts[1] + "=" * (-len(parts[1]) % 4)
        try:
            claims = json.loads(base64.urlsafe_b64decode(body))
        except (ValueError, binascii.Error):
            claims = None
    if not isinstance(claims, dict):
        raise InvalidInputError(
            f"expected {what} to be an OIDC identity token (a JWT: three base64url parts), "
            "found something else; give the token your CI issues for the audience sigstore"
        )
    return claims


def check_token(token: str, what: str, *, now: float | None = None) -> Claims:
    """The token's claims, or one error line saying why Fulcio would refuse it."""
    claims = _payload(token, what)
    issuer, subject, expires = claims.get("iss"), claims.get("sub"), claims.get("exp")
    if not isinstance(issuer, str) or not isinstance(subject, str) or not isinstance(expires, int):
        raise InvalidInputError(
            f"expected {what} to carry the claims iss, sub and exp, found "
            f"{', '.join(sorted(claims)) or 'none'}; give an OIDC identity token, not an "
            "access token"
        )
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if AUDIENCE not in audiences:
        raise InvalidInputError(
            f"expected {what} to be issued for the audience {AUDIENCE}, found "
            f"{', '.join(str(a) for a in audiences)}; ask your CI for a token with audience "
            f"{AUDIENCE} (GitHub Actions: the request's audience=sigstore; GitLab: id_tokens' "
            f"aud: sigstore)"
        )
    left = expires - (time.time() if now is None else now)
    if left < MARGIN_SECONDS:
        when = rfc3339(expires)
        found = f"it expired at {when} ({-left:.0f} s ago)" if left < 0 else f"{left:.0f} s left"
        raise InvalidInputError(
            f"expected {what} to be valid for at least {MARGIN_SECONDS} s more, found {found}; "
            "give a fresh token (or let the release ask your CI for one when it signs)"
        )
    return Claims(issuer=issuer, subject=subject, expires=expires)


@dataclass(frozen=True)
class GivenToken:
    """A token a front end reads from where the user put it (a secret, a variable, a file)."""

    what: str
    reader: "TokenReader" = field(repr=False)

    async def read(self) -> str:
        """What the reader holds now."""
        return (await self.reader()).strip()


class TokenReader(Protocol):
    """Reads a token's text from wherever the front end keeps it."""

    async def __call__(self) -> str:
        """The text, read now."""
        ...


@dataclass(frozen=True)
class GitHubActionsToken:
    """A fresh token from GitHub Actions' endpoint (``id-token: write``), for each read.

    The job's ``ACTIONS_ID_TOKEN_REQUEST_URL`` answers a GET with its request token as
    bearer and ``audience`` added to the query with ``{"value": "<token>"}``.
    """

    url: str = field(repr=False)
    request_token: str = field(repr=False)
    what: str = "GitHub Actions' token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL)"

    async def read(self) -> str:
        """Ask the endpoint for a token with the Sigstore audience."""
        url = self._checked_url()
        try:
            async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as client:
                response = await client.get(
                    url,
                    params={"audience": AUDIENCE},
                    headers={"Authorization": f"bearer {self.request_token}"},
                )
        except httpx.HTTPError as error:
            raise SigningError(
                f"expected {self.what} to answer, found {type(error).__name__}; check that "
                "the job has the permission id-token: write"
            ) from None
        value = None
        if response.status_code == httpx.codes.OK:
            try:
                value = response.json().get("value")
            except (ValueError, AttributeError):
                value = None
        if not isinstance(value, str) or not value:
            raise SigningError(
                f"expected {self.what} to give a token, found HTTP {response.status_code}"
                f"{'' if response.status_code != httpx.codes.OK else ' without one'}; check "
                "that the job has the permission id-token: write"
            )
        return value

    def _checked_url(self) -> httpx.URL:
        """The endpoint's URL, or an error quoting at most its scheme and host.

        The rest of the value is not quoted: a URL may carry a token in its query.
        """
        try:
            url: httpx.URL | None = httpx.URL(self.url)
        except httpx.InvalidURL:
            url = None
        if url is not None and url.scheme in ("http", "https") and url.host:
            return url
        found = "a value that is not a URL"
        if url is not None and url.scheme and url.host:
            found = f"a URL of scheme {url.scheme} on {url.host}"
        raise SigningError(
            f"expected {self.what} to be an http or https URL, found {found}; check that the "
            "job has the permission id-token: write and that the variable is not overridden"
        )


async def fresh_token(source: TokenSource) -> tuple[str, Claims]:
    """A token read now, and its claims once checked."""
    token = await source.read()
    if not token:
        raise InvalidInputError(
            f"expected an OIDC identity token in {source.what}, found it empty; give the "
            "token your CI issues for the audience sigstore"
        )
    return token, check_token(token, source.what)
