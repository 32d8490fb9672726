"""Plain HTTP or TLS: which scheme a registry is spoken to over, corrected by what it answers.

Loopback registries and those named insecure start with plain HTTP (no extra round trip
for the usual local registry); one found to answer only TLS (an SSH tunnel or a
port-forward to an HTTPS registry) is spoken to over HTTPS from then on. As in
go-containerregistry's ``schemeTransport``, the API builds each URL with the scheme it
knew and the transport corrects it with what it learned since.
"""

import httpx

from metrics_api.oci.spec.reference import plain_http_first


def answers_only_tls(response: httpx.Response) -> bool:
    """A TLS server's answer to plain HTTP.

    Go answers ``HTTP/1.0 400`` with no headers and "Client sent an HTTP request to an
    HTTPS server" (no body for a HEAD), nginx "The plain HTTP request was sent to HTTPS
    port"; a registry's own 400s are HTTP/1.1 with a JSON error body.
    """
    if response.status_code != httpx.codes.BAD_REQUEST:
        return False
    bare = response.http_version == "HTTP/1.0" and "content-type" not in response.headers
    return bare or b"https" in response.content[:512].lower()


class Schemer:
    """The scheme for each host: what the settings say, then what the host answered."""

    def __init__(self, insecure_registries: frozenset[str]) -> None:
        """``insecure_registries``: hosts spoken to over plain HTTP, as loopback ones are."""
        self.insecure_registries = insecure_registries
        self._speaks_tls: set[str] = set()  # plain-HTTP hosts found to answer only TLS

    def scheme(self, host: str) -> str:
        """``https``, except ``http`` for loopback registries and those named insecure.

        Those start with plain HTTP (no extra round trip for the usual local registry) and
        switch to HTTPS once the server answers that it speaks TLS (an SSH tunnel or a
        port-forward to an HTTPS registry): the scheme Docker would settle on, found the
        other way round.
        """
        plain = plain_http_first(host, self.insecure_registries) and (host not in self._speaks_tls)
        return "http" if plain else "https"

    def learned(self, url: httpx.URL) -> httpx.URL:
        """``url``, over HTTPS if its host was found to answer only TLS."""
        if url.scheme == "http" and url.netloc.decode("ascii") in self._speaks_tls:
            return url.copy_with(scheme="https")
        return url

    def over_tls(self, url: httpx.URL, response: httpx.Response) -> httpx.URL | None:
        """The HTTPS ``url`` to send again to when plain HTTP reached a TLS server, else None.

        The host is spoken to over HTTPS from then on.
        """
        if url.scheme != "http" or not answers_only_tls(response):
            return None
        self._speaks_tls.add(url.netloc.decode("ascii"))
        return url.copy_with(scheme="https")
