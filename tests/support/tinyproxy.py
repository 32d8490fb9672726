"""tinyproxy (Debian's package), a real forward proxy: plain HTTP forwarded, HTTPS via CONNECT.

Started on a free loopback port with a configuration of its own, in the foreground, its
log (one ``Request`` line per request it was asked to carry) kept for the test to read.
"""

import subprocess
import tempfile
import time
from pathlib import Path

from support.proc import require_tool
from support.registry import free_port

READY_TIMEOUT = 10.0


class TinyProxy:
    """One tinyproxy process; ``close()`` stops it."""

    def __init__(self) -> None:
        """Start it and wait until it accepts connections."""
        program = require_tool("tinyproxy", "tinyproxy")
        self.port = free_port()
        self._dir = Path(tempfile.mkdtemp(prefix="metrics-api-tinyproxy-"))
        config = self._dir / "tinyproxy.conf"
        config.write_text(
            f"Port {self.port}\nListen 127.0.0.1\nTimeout 60\nLogLevel Info\n"
            "MaxClients 50\nAllow 127.0.0.1\nDisableViaHeader Yes\n"
        )
        self.log_path = self._dir / "tinyproxy.log"
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                [program, "-d", "-c", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + READY_TIMEOUT
        while "Accepting connections" not in self.log():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"tinyproxy did not start; its log:\n{self.log()}")
            time.sleep(0.05)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, as HTTP_PROXY names it."""
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        """Everything tinyproxy logged so far."""
        return self.log_path.read_text(errors="replace")

    def requests(self) -> list[str]:
        """``METHOD TARGET`` of each request it was asked to carry, in order."""
        return [
            line.split("): ", 1)[1].rsplit(" HTTP/", 1)[0]
            for line in self.log().splitlines()
            if "Request (file descriptor" in line
        ]

    def close(self) -> None:
        """Stop it."""
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
