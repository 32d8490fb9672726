"""Run independent requests at once, and report a failure as itself, not as a group."""

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import anyio

T = TypeVar("T")


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


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
        raise _first_leaf(failures) from None
    return [results[position] for position in range(len(calls))]
