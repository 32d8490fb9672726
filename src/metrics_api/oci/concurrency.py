"""Run independent requests at once, and report a failure as itself, not as a group.

Also: calls that block (a name lookup, a credential helper) run in daemon threads that
neither the event loop nor the process's exit waits for, so an interrupt is never held.
"""

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

import anyio

P = ParamSpec("P")
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


async def beside(
    main: Callable[[], Awaitable[T]], aside: Callable[[], Coroutine[object, object, None]]
) -> T:
    """``main``'s result, with ``aside`` run meanwhile and cancelled if still running then.

    For work that only helps ``main`` (connections opened ahead): never waited for.
    """
    results: list[T] = []
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(aside)
            results.append(await main())
            group.cancel_scope.cancel()
    except BaseExceptionGroup as failures:
        raise first_leaf(failures) from None
    return results[0]


class DaemonThreads(ThreadPoolExecutor):
    """An executor that runs each call in a daemon thread of its own and never waits for one.

    As the event loop's default executor it runs asyncio's ``getaddrinfo``: the end of
    ``asyncio.run`` and of the interpreter wait for a pool's threads, so a lookup stuck on
    a slow DNS server held an interrupted job until the resolver gave up. A call that no
    one awaits any more is left behind here instead.
    """

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Start ``fn`` in a new daemon thread; the future holds its outcome."""
        future: Future[T] = Future()

        def work() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn(*args, **kwargs)
            except BaseException as error:  # noqa: BLE001 - handed to the waiter, as a pool does
                future.set_exception(error)
            else:
                future.set_result(result)

        threading.Thread(target=work, name="blocking call", daemon=True).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Nothing to wait for: a call still running belongs to a job that has ended."""


_DAEMONS = DaemonThreads()


async def off_the_loop(call: Callable[[], T]) -> T:
    """``call()`` in a daemon thread, awaited: for a call that may block for minutes.

    The event loop goes on meanwhile (other requests, a signal); a cancelled caller stops
    waiting at once, and the process's exit does not wait for the call either. (anyio
    runs on asyncio here: the command line's ``anyio.run`` and Dagger's SDK both use it.)
    """
    return await asyncio.wrap_future(_DAEMONS.submit(call))
