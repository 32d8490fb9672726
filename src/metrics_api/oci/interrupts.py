"""SIGINT and SIGTERM for the command line, heard from the process's start to its end.

What the command line relied on before (asyncio's Ctrl-C handling, anyio's SIGTERM
receiver inside the event loop) let an interrupt go unheard, or let it wait:

- Python leaves SIGINT ignored when the process inherits it ignored, as every command a
  non-interactive shell starts in the background (``cmd &``) does. asyncio then installs
  no Ctrl-C handling at all, so a SIGINT was dropped and the job waited on for its request.
- Until the event loop ran and watched for SIGTERM (while Python loads the modules, and
  parses the command line), the default action of SIGTERM killed the process without its
  one line and exit code 143.
- asyncio resolves host names in threads of the loop's default executor, and the end of
  ``asyncio.run`` (and of the interpreter) waits for those threads: an interrupted job
  stayed alive as long as a name lookup of a slow DNS server went on.
- A credential helper ran on the event loop's own thread, so no signal was heard until it
  returned (two minutes at most, for one waiting for a keyring).

So one handler, installed first thing, notes the first signal and wakes the job; and
blocking calls run in daemon threads that nothing waits for (``concurrency``).
"""

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import Final

SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)


class Interrupts:
    """The first SIGINT or SIGTERM the process received, and a way to wait for it.

    Later signals change nothing: the job is stopping already, and one Ctrl-C often comes
    twice (from the terminal to the whole process group, and forwarded by a wrapper such
    as ``timeout``), which must not cost the line and the exit code.
    """

    def __init__(self) -> None:
        """Nothing received yet; ``install`` or ``caught`` makes the handler the process's."""
        self.received: signal.Signals | None = None
        self._wake: Callable[[], object] | None = None

    def handle(self, signum: int, frame: FrameType | None) -> None:  # noqa: ARG002 - signal API
        """The signal handler: note the first signal and wake the job waiting in ``wait``."""
        if self.received is not None:
            return
        self.received = signal.Signals(signum)
        if self._wake is not None:
            with suppress(RuntimeError):  # the loop just closed: nobody waits any more
                self._wake()

    def installed(self) -> bool:
        """True when ``handle`` is the process's handler of both signals."""
        return all(signal.getsignal(number) == self.handle for number in SIGNALS)

    def install(self) -> None:
        """Make ``handle`` the handler of both signals, ignored or not, for good.

        Called before anything else loads, so a signal that arrives meanwhile counts.
        Only the main thread may set handlers; elsewhere nothing changes.
        """
        if threading.current_thread() is not threading.main_thread():
            return
        for number in SIGNALS:
            signal.signal(number, self.handle)

    @contextmanager
    def caught(self) -> Iterator[None]:
        """Handle both signals inside the block: the job of one ``main`` call.

        When the handlers are the process's already (``install``), a signal received
        before the block still counts and nothing is undone afterwards; otherwise (a
        command run inside a test) the previous handlers are restored at the end.
        """
        if self.installed():
            yield
            return
        previous = {number: signal.getsignal(number) for number in SIGNALS}
        self.received = None
        self.install()
        try:
            yield
        finally:
            if self.installed():
                for number, handler in previous.items():
                    signal.signal(number, signal.SIG_DFL if handler is None else handler)

    async def wait(self) -> signal.Signals:
        """The first signal: at once if it came already, before the loop ran included."""
        import asyncio  # noqa: PLC0415 - loaded by then; this module loads first of all

        loop = asyncio.get_running_loop()
        arrived = asyncio.Event()
        self._wake = lambda: loop.call_soon_threadsafe(arrived.set)
        try:
            if self.received is None:  # a signal from now on sets ``arrived``
                await arrived.wait()
        finally:
            self._wake = None
        assert self.received is not None  # noqa: S101 - set before ``arrived`` is
        return self.received


INTERRUPTS: Final = Interrupts()
