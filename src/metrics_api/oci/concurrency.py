"""Run independent requests at once, and report a failure as itself, not as a group."""

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import anyio

T = TypeVar("T")
U = TypeVar("U")


def first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first exception of a (nested) group: the failure a user is shown."""
    first = group.exceptions[0]
    return first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


async def run_all(calls: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
    """Await every call concurrently; results keep the order of ``calls``.

    When one fails the others are cancelled and its own exception is raised, so callers
    and users see ``RegistryError: ...`` rather than an ``ExceptionGroup``.
    """
    results: dict[int, T] = {}

    async def run(position: int, call: Callable[[], Awaitable[T]]) -> None:
        results[position] = await call()

    try:
        async with anyio.create_task_group() as group:
            for position, call in enumerate(calls):
                group.start_soon(run, position, call)
    except BaseExceptionGroup as failures:
        raise first_leaf(failures) from None
    return [results[position] for position in range(len(calls))]


async def both(
    first: Callable[[], Awaitable[T]], second: Callable[[], Awaitable[U]]
) -> tuple[T, U]:
    """Await two independent calls of different types at once (failures as in ``run_all``)."""
    firsts: list[T] = []
    seconds: list[U] = []

    async def run_first() -> None:
        firsts.append(await first())

    async def run_second() -> None:
        seconds.append(await second())

    await run_all([run_first, run_second])
    return firsts[0], seconds[0]
