"""Connections opened while the command line loads carry its first requests, TLS included.

``EarlyConnections`` opens them from the parsed command line; the transport's pools take
them for their first connections (``registry.pools``). Each test checks that the registry
got the request over the early connection, not over one the pool opened itself.
"""

import socket

import anyio
import pytest
from support.faultproxy import FaultProxy
from support.oci_cli import TlsRegistry, Variants

from metrics_api.oci.registry import early as early_module
from metrics_api.oci.registry.early import EarlyConnections
from metrics_api.oci.registry.session import Settings, open_client
from metrics_api.oci.spec.reference import Reference, parse_reference

pytestmark = pytest.mark.integration


def test_the_first_requests_go_over_the_connections_opened_early(
    proxy: FaultProxy, variants: Variants
) -> None:
    refs = [
        parse_reference(proxy.ref(variants.repository, tag))
        for tag in ("v2.0.0-amd64", "v2.0.0-arm64")
    ]
    early = EarlyConnections.open([str(ref) for ref in refs])
    settings = Settings(use_docker_config=False, early_connections=early)

    async def run() -> list[str]:
        digests: list[str] = []
        async with open_client(settings) as client:

            async def fetch(ref: Reference) -> None:
                digests.append((await client.get_manifest(ref)).digest)

            async with anyio.create_task_group() as group:
                for ref in refs:
                    group.start_soon(fetch, ref)
        return digests

    digests = anyio.run(run)

    assert sorted(digests) == sorted([variants.amd64, variants.arm64_index])
    assert proxy.accepted == 2, "the pool opened no connection of its own"
    assert proxy.count("GET") == 2
    assert early.claim("127.0.0.1", proxy.port) is None


def test_a_connection_still_being_opened_is_waited_for_not_opened_again(
    proxy: FaultProxy, variants: Variants, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As when the registry is far: the job's first request comes before the handshake ends.
    monkeypatch.setattr(early_module._Pending, "done", lambda _: False)  # noqa: SLF001
    ref = parse_reference(proxy.ref(variants.repository, "v2.0.0-amd64"))
    early = EarlyConnections.open([str(ref)])
    settings = Settings(use_docker_config=False, early_connections=early)

    async def run() -> str:
        async with open_client(settings) as client:
            return (await client.get_manifest(ref)).digest

    assert anyio.run(run) == variants.amd64
    assert proxy.accepted == 1, "the pool waited for the early connection and used it"


def test_an_https_registry_is_spoken_to_over_tls_on_the_early_connection(
    tls_registry: TlsRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    handed: list[socket.socket | None] = []
    waiting = early_module._Pending.wait  # noqa: SLF001 - what the pool was handed

    def traced(self: early_module._Pending, timeout: float | None) -> socket.socket | None:
        connected = waiting(self, timeout)
        handed.append(connected)
        return connected

    monkeypatch.setattr(early_module._Pending, "wait", traced)  # noqa: SLF001
    reference = tls_registry.ref("metrics-api", "v2.0.0")
    early = EarlyConnections.open([reference])
    settings = Settings(
        use_docker_config=False,
        ca_certificates=tls_registry.ca_file.read_text(),
        early_connections=early,
    )

    async def run() -> object:
        async with open_client(settings) as client:
            return await client.head_manifest(parse_reference(reference))

    found = anyio.run(run)

    assert found is None, "the registry answered over TLS: nothing is pushed there"
    assert len(handed) == 1
    assert handed[0] is not None, "the early connection was up and handed to the pool"
