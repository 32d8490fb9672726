"""Connections opened ahead: kept for the requests that go at once, never a job's failure.

A signed ``assemble`` sends its signatures' uploads and tag looks together beside the
index's write; each needs a connection. ``RegistryClient.preconnect`` opens them while
the variants resolve, so none of those requests waits for a handshake.
"""

from collections.abc import Iterator

import anyio
import pytest
from support.faultproxy import FaultProxy, start_proxy
from support.registry import Registry, free_port
from support.token_registry import TokenRegistry
from support.token_server import TokenServer

from metrics_api.oci.registry.client import PRECONNECT_LIMIT
from metrics_api.oci.registry.session import Settings, open_client
from metrics_api.oci.spec.reference import parse_reference

pytestmark = pytest.mark.integration


@pytest.fixture
def proxy(fresh_registry: Registry) -> Iterator[FaultProxy]:
    with start_proxy(fresh_registry.host) as started:
        yield started


def settings(*hosts: str) -> Settings:
    return Settings(insecure_registries=frozenset(hosts), use_docker_config=False)


def test_connections_opened_ahead_serve_the_requests_sent_at_once(proxy: FaultProxy) -> None:
    ref = parse_reference(f"{proxy.host}/ahead/repo:absent")

    async def run() -> list[int]:
        async with open_client(settings(proxy.host)) as client:
            await client.preconnect(proxy.host, 4)
            opened = proxy.accepted
            async with anyio.create_task_group() as group:
                for _ in range(4):
                    group.start_soon(client.head_manifest, ref)
            return [opened, proxy.accepted, client.stats.requests]

    opened, after, requests = anyio.run(run)

    assert opened == 4
    assert proxy.count("GET", r"^/v2/$") == 4
    assert after == 4, "the four requests sent at once found their connections open"
    assert requests == 4 + 4


def test_connections_opened_ahead_are_at_most_what_the_pool_keeps(proxy: FaultProxy) -> None:
    async def run() -> None:
        async with open_client(settings(proxy.host)) as client:
            await client.preconnect(proxy.host, 100)

    anyio.run(run)

    assert proxy.accepted == PRECONNECT_LIMIT
    assert proxy.count("GET", r"^/v2/$") == PRECONNECT_LIMIT


def test_a_token_registry_is_asked_no_token_to_open_connections(
    token_registry: TokenRegistry, token_server: TokenServer
) -> None:
    asked = len(token_server.log)
    with start_proxy(token_registry.host) as proxy:

        async def run() -> None:
            async with open_client(settings(proxy.host)) as client:
                await client.preconnect(proxy.host, 3)

        anyio.run(run)

        assert [entry.status for entry in proxy.log] == [401, 401, 401]
        assert proxy.accepted == 3
    assert len(token_server.log) == asked


def test_a_host_that_cannot_be_reached_leaves_its_failure_to_the_requests() -> None:
    host = f"127.0.0.1:{free_port()}"  # nothing listens there

    async def run() -> int:
        async with open_client(settings(host)) as client:
            await client.preconnect(host, 3)
            return client.stats.requests

    assert anyio.run(run) == 3
