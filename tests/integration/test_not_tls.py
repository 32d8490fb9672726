"""TLS spoken to a plain-HTTP server fails at once: no attempt after the first can succeed.

The server answers the TLS handshake with an HTTP 400, which OpenSSL reports as
``WRONG_VERSION_NUMBER``; like an untrusted certificate, that is no transient fault. The
error keeps its remedy: if the host serves plain HTTP, name it insecure.
"""

import socket
from collections.abc import Iterator

import anyio
import httpx
import pytest
from support.listeners import Listener
from support.oci_cli import run_cli

from metrics_api.oci.errors import RegistryError, Remedy
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.registry.transport import Attempts, RetryPolicy
from metrics_api.oci.spec.reference import parse_reference

pytestmark = pytest.mark.integration

# Five attempts, as the default, with pauses too short to matter.
RETRY = RetryPolicy(attempts=5, base_delay=0.001)


class HttpsEverywhere(RegistryClient):
    """The client, speaking HTTPS to loopback too, as it does to any other registry."""

    def base_url(self, host: str) -> str:
        """HTTPS whatever the host."""
        return f"https://{host}/v2/"


@pytest.fixture
def plain() -> Iterator[Listener]:
    """A plain-HTTP server on 127.0.0.1 (it answers 404 to any request it can read)."""
    with Listener("not found").start() as listener:
        yield listener


def assert_not_tls(error: RegistryError, host: str) -> None:
    assert error.remedy is Remedy.PLAIN_HTTP
    assert error.host == host
    message = str(error)
    assert f"GET https://{host}/v2/metrics-api/" in message
    assert f"{host} does not speak TLS on that port" in message
    assert "WRONG_VERSION_NUMBER" in message
    assert f"check that {host} is reachable over HTTPS" in message


def test_a_request_is_not_retried(plain: Listener) -> None:
    host = f"127.0.0.1:{plain.port}"

    async def fetch() -> tuple[RegistryClient, RegistryError]:
        async with HttpsEverywhere(retry=RETRY) as client:
            with pytest.raises(RegistryError) as refused:
                await client.get_manifest(parse_reference(f"{host}/metrics-api:v2.0.0"))
            return client, refused.value

    client, error = anyio.run(fetch)
    assert plain.connections == 1
    assert plain.requests == []  # the handshake is no request it could read
    assert (client.stats.requests, client.stats.retries) == (1, 0)
    assert_not_tls(error, host)


def test_a_streamed_operation_is_not_restarted(plain: Listener) -> None:
    """A streamed download restarts itself through ``Attempts``: it refuses the same way."""
    host = f"127.0.0.1:{plain.port}"
    reference = parse_reference(f"{host}/metrics-api:v2.0.0")
    what = "fetching a blob"

    async def attempt_all(client: RegistryClient, attempts: Attempts) -> None:
        """As a streamed download does: a transport failure, then the next attempt."""
        async for _ in attempts:
            try:
                async with client.stream("GET", reference, "blobs/sha256:0", what=what):
                    return
            except httpx.TransportError as error:
                await attempts.failed(error, what)

    async def download() -> tuple[RegistryClient, int, BaseException | None]:
        async with HttpsEverywhere(retry=RETRY) as client:
            attempts = client.attempts()
            try:
                await attempt_all(client, attempts)
            except RegistryError as refused:
                return client, attempts.made, refused
            return client, attempts.made, None

    client, made, error = anyio.run(download)
    assert plain.connections == 1
    assert made == 1
    assert (client.stats.requests, client.stats.retries) == (1, 0)
    assert isinstance(error, RegistryError)
    assert_not_tls(error, host)


def test_the_command_line_fails_at_once_with_the_plain_http_remedy() -> None:
    """A name that is not loopback, so the command line speaks HTTPS, as to any registry."""
    name = socket.gethostname()
    if name in {"localhost", ""}:
        pytest.fail(f"the machine's name is {name!r}: this test needs one that is not loopback")
    with Listener("not found", address=socket.gethostbyname(name)).start() as plain:
        host = f"{name}:{plain.port}"
        result = run_cli("resolve", f"{host}/metrics-api:v2.0.0", "--platform", "linux/amd64")
    assert plain.connections == 1
    assert (result.report["requests"], result.report["retries"]) == (1, 0)
    assert result.code == 1, result.stderr
    (line,) = result.stderr.splitlines()
    assert f"{host} does not speak TLS on that port" in line
    assert line.endswith(f"; if {host} serves plain HTTP, pass --insecure-registry {host}")
