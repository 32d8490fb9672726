"""A job is idle while its requests only await their answers, and builds its models then.

``IdleWatch`` follows each request's phase through httpcore's ``trace`` extension;
``build_when_idle`` builds models only at such moments. The registry stand-in holds every
GET unanswered, so the moment lasts as long as a test needs.
"""

import socket
import ssl
from collections.abc import Mapping

import anyio
import anyio.lowlevel
import httpx
import pytest
from pydantic import BaseModel, ConfigDict
from support.listeners import Listener
from support.oci_cli import TlsRegistry
from support.tinyproxy import TinyProxy

from metrics_api.oci.errors import OciError
from metrics_api.oci.registry.idle import IdleWatch
from metrics_api.oci.registry.retry import RetryPolicy
from metrics_api.oci.registry.session import Settings, build_when_idle, open_client
from metrics_api.oci.spec.reference import parse_reference

pytestmark = pytest.mark.integration

TURNS = 20  # event loop turns: ample for anything runnable to have run
HANG_GUARD = 60.0  # only a guard: what a test waits for comes within a second


def fresh_models() -> list[type[BaseModel]]:
    """Two models of this test's own, not built yet."""

    class Base(BaseModel):
        model_config = ConfigDict(defer_build=True)
        size: int

    class Derived(Base):
        name: str

    return [Base, Derived]


async def turns() -> None:
    for _ in range(TURNS):
        await anyio.lowlevel.checkpoint()


def test_idle_once_a_request_is_written_and_only_while_it_awaits_its_answer(
    holding: Listener,
) -> None:
    watch = IdleWatch()
    ref = parse_reference(f"127.0.0.1:{holding.port}/metrics-api:v2.0.0")
    received: list[str] = []

    async def run() -> None:
        async with open_client(Settings(use_docker_config=False), watch=watch) as client:
            await turns()
            assert not watch.is_idle, "nothing sent: not idle"
            async with anyio.create_task_group() as group:
                group.start_soon(client.get_manifest, ref)
                with anyio.fail_after(HANG_GUARD):
                    await watch.idle()
                # The event loop is blocked here: had the GET not been written out yet,
                # it would not be now, and the listener would never see it.
                received.append(holding.wait_for_request("GET"))
                assert watch.is_idle
                group.cancel_scope.cancel()
            assert not watch.is_idle, "the cancelled request is no longer counted"

    anyio.run(run)

    assert received == ["GET /v2/metrics-api/manifests/v2.0.0"]


def test_a_request_that_failed_is_no_longer_counted(holding: Listener) -> None:
    """A connection refused: the next request that awaits its answer makes the job idle."""
    with socket.create_server(("127.0.0.1", 0)) as closed:
        refused = parse_reference(f"127.0.0.1:{closed.getsockname()[1]}/metrics-api:v2.0.0")
    held = parse_reference(f"127.0.0.1:{holding.port}/metrics-api:v2.0.0")
    watch = IdleWatch()

    async def run() -> None:
        settings = Settings(use_docker_config=False, retry=RetryPolicy(base_delay=0.01))
        async with open_client(settings, watch=watch) as client:
            with pytest.raises(OciError):
                await client.get_manifest(refused)
            assert not watch.is_idle
            async with anyio.create_task_group() as group:
                group.start_soon(client.get_manifest, held)
                with anyio.fail_after(HANG_GUARD):  # a count left behind: never idle
                    await watch.idle()
                holding.wait_for_request("GET")
                group.cancel_scope.cancel()

    anyio.run(run)


def test_models_are_built_while_the_first_request_awaits_its_answer(
    holding: Listener,
) -> None:
    watch = IdleWatch()
    models = fresh_models()
    ref = parse_reference(f"127.0.0.1:{holding.port}/metrics-api:v2.0.0")
    built_before_sending: list[bool] = []

    async def run() -> None:
        built = anyio.Event()
        answered = anyio.Event()

        async def build() -> None:
            await build_when_idle(watch, models)
            built.set()

        async with open_client(Settings(use_docker_config=False), watch=watch) as client:

            async def fetch() -> None:
                await client.get_manifest(ref)
                answered.set()

            async with anyio.create_task_group() as group:
                group.start_soon(build)
                await turns()
                built_before_sending.extend(m.__pydantic_complete__ for m in models)
                group.start_soon(fetch)
                with anyio.fail_after(HANG_GUARD):
                    await built.wait()
                assert not answered.is_set(), "built while the GET is still unanswered"
                group.cancel_scope.cancel()

    anyio.run(run)

    assert built_before_sending == [False, False], "nothing was sent yet: nothing built"
    assert all(model.__pydantic_complete__ for model in models)
    assert holding.wait_for_request("GET") == "GET /v2/metrics-api/manifests/v2.0.0"


def test_through_a_connect_tunnel_idle_only_while_the_request_itself_awaits_its_answer(
    tinyproxy: TinyProxy, tls_registry: TlsRegistry
) -> None:
    """httpcore's own events for a GET through tinyproxy, followed by a watch.

    The tunnel's CONNECT is written and answered first, then the GET is written through
    it: idle while either awaits its answer, not while the GET is being written.
    """
    url = f"https://{tls_registry.host}/v2/"
    events: list[str] = []

    async def record(event: str, _info: Mapping[str, object]) -> None:
        events.append(event)

    async def send() -> None:
        trust = ssl.create_default_context(cafile=str(tls_registry.ca_file))
        async with httpx.AsyncClient(proxy=tinyproxy.url, verify=trust) as http:
            await http.get(url, extensions={"trace": record})

    anyio.run(send)
    watch = IdleWatch()
    idle_after: list[bool] = []

    async def follow() -> None:
        request = httpx.Request("GET", url)
        async with watch.sending(request):
            trace = request.extensions["trace"]
            for event in events:
                await trace(event, {})
                idle_after.append(watch.is_idle)

    anyio.run(follow)

    sent = [i for i, event in enumerate(events) if event.endswith("send_request_headers.started")]
    waiting = [i for i, e in enumerate(events) if e.endswith("receive_response_headers.started")]
    assert len(sent) == len(waiting) == 2, f"a CONNECT, then the GET: {events}"
    expected = [waiting[0] <= i < sent[1] or i >= waiting[1] for i in range(len(events))]
    assert idle_after == expected
    assert not watch.is_idle
