"""The registry's credentials go to the registry alone.

A registry may send a request elsewhere: an upload Location or a redirect to its storage
backend, maybe over plain HTTP. Those are followed without the registry's Authorization,
and a 401 from such a server is refused rather than answered with the registry's
credentials (go-containerregistry and containerd scope credentials to the registry's host
the same way).
"""

from collections.abc import Mapping
from functools import cache

import httpx

from metrics_api.oci.errors import AuthenticationError, RegistryError, Remedy
from metrics_api.oci.registry.bearer import TokenExchange
from metrics_api.oci.registry.responses import describe, shown_url
from metrics_api.oci.registry.schemer import Schemer
from metrics_api.oci.spec.reference import Reference


@cache
def _origin(scheme: str, host: str) -> tuple[str, str, int | None]:
    """A registry's scheme, host and port as httpx reads them; parsed once, asked per request."""
    url = httpx.URL(f"{scheme}://{host}/")
    return url.scheme, url.host, url.port


class CredentialGate:
    """Adds credentials to what goes to the registry, and answers only its challenges."""

    def __init__(self, schemer: Schemer, tokens: TokenExchange) -> None:
        """``schemer``: the scheme spoken to each registry, part of what makes it the registry."""
        self._schemer = schemer
        self._tokens = tokens

    def is_registry(self, ref: Reference, url: httpx.URL) -> bool:
        """Whether ``url`` is ``ref``'s registry: the same scheme, host and port."""
        return (url.scheme, url.host, url.port) == _origin(self._schemer.scheme(ref.host), ref.host)

    async def headers(
        self,
        ref: Reference,
        url: httpx.URL,
        scopes: tuple[str, ...],
        extra: Mapping[str, str] | None,
        what: str,
    ) -> dict[str, str]:
        """``extra``, with the registry's Authorization only when ``url`` is the registry."""
        if not self.is_registry(ref, url):
            return dict(extra or {})
        return await self._tokens.headers(ref.host, scopes, extra, what)

    async def request(  # noqa: PLR0913 - what a request is built from
        self,
        url: httpx.URL,
        *,
        http: httpx.AsyncClient,
        method: str,
        ref: Reference,
        scopes: tuple[str, ...],
        extra: Mapping[str, str] | None,
        content: bytes | None,
        what: str,
    ) -> httpx.Request:
        """To ``url`` over the scheme learned so far, with the credentials it may get there."""
        url = self._schemer.learned(url)
        return http.build_request(
            method, url, headers=await self.headers(ref, url, scopes, extra, what), content=content
        )

    async def challenge(
        self, ref: Reference, scopes: tuple[str, ...], response: httpx.Response, what: str
    ) -> None:
        """Answer the registry's 401; one from another server is refused, it gets nothing."""
        if not self.is_registry(ref, response.request.url):
            raise _not_the_registry(ref, response, what)
        await self._tokens.answer_challenge(ref.host, scopes, response, what)

    async def refused(
        self, ref: Reference, response: httpx.Response, *, push: bool, what: str
    ) -> RegistryError:
        """The error for a 401 that answering the challenge did not cure."""
        if not self.is_registry(ref, response.request.url):
            return _not_the_registry(ref, response, what)
        request = response.request
        configured = await self._tokens.credentials_for(ref.host) is not None
        return AuthenticationError(
            f"{what}: {request.method} {shown_url(request.url)} answered {describe(response)} "
            f"even with {'the configured' if configured else 'no'} credentials; needed: "
            f"credentials for {ref.host} of an account that may "
            f"{'push to' if push else 'pull from'} {ref.repository}",
            remedy=Remedy.CREDENTIALS,
            host=ref.host,
        )


def _not_the_registry(ref: Reference, response: httpx.Response, what: str) -> RegistryError:
    request = response.request
    return AuthenticationError(
        f"{what}: expected {request.method} {shown_url(request.url)} to need no "
        f"credentials, found {describe(response)}; it is not the registry {ref.host}, and "
        "the registry's credentials are sent to the registry alone: check where the "
        "registry sends uploads and downloads (its storage or proxy settings)",
        host=ref.host,
    )
