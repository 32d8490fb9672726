"""When a job is idle: each request it sent is written out and only awaits its answer.

Against a remote registry that lasts a round trip, tens to hundreds of milliseconds in
which the process has nothing to do: work it will need later costs no time there
(``session.run_in_client``). Each request's phase comes from httpcore's ``trace``
extension: it is being written from the start (connecting included) until httpcore waits
for its answer's headers, and writing again if it then sends more (a proxy's tunnel
first, then the request through it).
"""

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import anyio
import anyio.lowlevel
import httpx


class IdleWatch:
    """Counts the requests being written and those awaiting their answers."""

    def __init__(self) -> None:
        """No request yet: not idle."""
        self._writing = 0
        self._awaiting = 0
        self._changed: anyio.Event | None = None

    @property
    def is_idle(self) -> bool:
        """A request awaits its answer, and none is being written."""
        return self._awaiting > 0 and self._writing == 0

    async def idle(self) -> None:
        """Return when the job is idle: after one turn of the event loop if it is already."""
        await anyio.lowlevel.checkpoint()  # every task that could run has had its turn
        while not self.is_idle:
            if self._changed is None:
                self._changed = anyio.Event()
            await self._changed.wait()

    def _move(self, writing: int, awaiting: int) -> None:
        self._writing += writing
        self._awaiting += awaiting
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    @asynccontextmanager
    async def sending(self, request: httpx.Request) -> AsyncIterator[None]:
        """Count ``request`` while it is sent; its ``trace`` extension is set to follow it."""
        awaiting = False

        async def trace(event: str, _info: Mapping[str, object]) -> None:
            nonlocal awaiting
            if event.endswith(".receive_response_headers.started") and not awaiting:
                awaiting = True
                self._move(writing=-1, awaiting=1)
            elif event.endswith(".send_request_headers.started") and awaiting:
                awaiting = False
                self._move(writing=1, awaiting=-1)

        request.extensions = {**request.extensions, "trace": trace}
        self._move(writing=1, awaiting=0)
        try:
            yield
        finally:
            self._move(writing=0 if awaiting else -1, awaiting=-1 if awaiting else 0)
