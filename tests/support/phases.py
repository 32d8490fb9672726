"""Timed phases of the end-to-end rehearsal, printed at the end of the run."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

PHASES: dict[str, float] = {}


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Time one phase of the rehearsal."""
    started = time.monotonic()
    try:
        yield
    finally:
        PHASES[name] = time.monotonic() - started
