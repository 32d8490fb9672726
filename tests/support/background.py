"""An HTTP server of the tests that serves on a free loopback port from a thread of its own.

The fault proxy and the token server share this lifecycle: ``start()``, ``stop()``, and
``with X(...).start() as x:``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from http.server import ThreadingHTTPServer
    from types import TracebackType

STOP_TIMEOUT = 5.0


class BackgroundServer:
    """Lifecycle only: a subclass makes its server in ``_make_server``."""

    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def _make_server(self) -> ThreadingHTTPServer:
        raise NotImplementedError

    def _closed(self) -> None:
        """Called once the server stopped accepting, before its thread is joined."""

    def start(self) -> Self:
        """Listen on a free loopback port, serving in a background thread."""
        self._server = self._make_server()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        self._closed()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT)

    @property
    def port(self) -> int:
        """The port it listens on."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not running: call start() first")
        return int(self._server.server_address[1])

    def __enter__(self) -> Self:
        """``with X(...).start() as x:``."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop."""
        self.stop()
