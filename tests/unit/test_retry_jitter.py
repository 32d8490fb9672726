"""Pauses between attempts are jittered: requests that failed together come back apart.

"Equal jitter": each pause lies between half the backoff and all of it, drawn from the
policy's random source; a test passes a source of its own, so every number is known.
"""

import random
from collections.abc import Callable

import anyio
import httpx
import pytest

from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.registry.transport import RetryPolicy
from metrics_api.oci.spec.reference import parse_reference

pytestmark = pytest.mark.unit

DIGEST = "sha256:" + "0" * 64


def drawing(values: list[float]) -> tuple[Callable[[], float], list[float]]:
    """A random source that hands out ``values`` in turn, and the list of those drawn."""
    drawn: list[float] = []

    def draw() -> float:
        drawn.append(values[len(drawn)])
        return drawn[-1]

    return draw, drawn


def test_each_pause_is_the_backoff_with_its_upper_half_drawn() -> None:
    draw, drawn = drawing([0.0, 0.5, 0.75, 0.999, 0.25])
    policy = RetryPolicy(attempts=5, base_delay=0.2, max_delay=1.0, random=draw)
    pauses = [policy.pause(attempt, None) for attempt in range(5)]
    assert pauses == pytest.approx([0.1, 0.3, 0.7, 0.9995, 0.625])
    assert len(drawn) == 5


def test_a_retry_after_is_kept_as_the_registry_said_and_draws_nothing() -> None:
    draw, drawn = drawing([])
    policy = RetryPolicy(max_retry_after=30.0, random=draw)
    assert policy.pause(0, "3") == 3.0
    assert policy.pause(3, "600") == 30.0
    assert drawn == []


def test_pauses_stay_within_the_backoff_and_differ_between_requests() -> None:
    """Two requests that failed at once, each with its own draws, do not pause alike."""
    first = RetryPolicy(random=random.Random(1).random)  # noqa: S311 - jitter, not secrets
    second = RetryPolicy(random=random.Random(2).random)  # noqa: S311
    for attempt in range(first.attempts - 1):
        backoff = first.delay(attempt, None)
        pauses = (first.pause(attempt, None), second.pause(attempt, None))
        assert all(backoff / 2 <= pause <= backoff for pause in pauses)
        assert pauses[0] != pauses[1]


def test_the_same_seed_gives_the_same_pauses() -> None:
    seeded = [RetryPolicy(random=random.Random(7).random) for _ in range(2)]  # noqa: S311
    first, second = ([p.pause(attempt, None) for attempt in range(4)] for p in seeded)
    assert first == second


def test_every_retry_of_a_request_draws_its_pause() -> None:
    answers = iter([503, 503, 200])
    draw, drawn = drawing([0.5, 0.5])

    def registry(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(answers), headers={"Content-Length": "7"}, request=request)

    async def size() -> tuple[int | None, int]:
        policy = RetryPolicy(base_delay=0.001, random=draw)
        transport = httpx.MockTransport(registry)
        async with RegistryClient(retry=policy, transport=transport) as client:
            found = await client.blob_size(parse_reference("127.0.0.1:5000/app:v1"), DIGEST)
            return found, client.stats.retries

    assert anyio.run(size) == (7, 2)
    assert drawn == [0.5, 0.5]


def test_every_restart_of_a_streamed_operation_draws_its_pause() -> None:
    draw, drawn = drawing([0.1, 0.2, 0.3, 0.4])

    async def restart_every_time() -> tuple[int, int]:
        policy = RetryPolicy(attempts=5, base_delay=0.001, random=draw)
        async with RegistryClient(retry=policy) as client:
            attempts = client.attempts()
            async for _ in attempts:
                pass  # each attempt failed in a way worth another
            return attempts.made, client.stats.retries

    assert anyio.run(restart_every_time) == (5, 4)
    assert drawn == [0.1, 0.2, 0.3, 0.4]
