"""The request counter behind metrics_api_http_requests_total, and the request log."""

from __future__ import annotations

import json
import sys
import threading
from datetime import UTC, datetime


class RequestCounter:
    """Counts handled requests by route template and status code."""

    def __init__(self) -> None:
        """Start with no requests."""
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int], int] = {}

    def record(self, route: str, status: int) -> None:
        """Count one request."""
        with self._lock:
            key = (route, status)
            self._counts[key] = self._counts.get(key, 0) + 1

    def snapshot(self) -> list[tuple[str, int, int]]:
        """Return (route, status, count) triples, sorted."""
        with self._lock:
            return sorted((route, status, count) for (route, status), count in self._counts.items())


class RequestLog:
    """Writes one line per request to stdout, flushed, whole lines only."""

    def __init__(self) -> None:
        """Share one lock between the server threads."""
        self._lock = threading.Lock()

    def log(self, method: str, path: str, status: int, duration_seconds: float) -> None:
        """Write the line the Go implementation writes, with JSON-quoted method and path."""
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        line = (
            f"{stamp} method={json.dumps(method)} path={json.dumps(path)} "
            f"status={status} duration_ms={duration_seconds * 1000:.3f}\n"
        )
        with self._lock:
            sys.stdout.write(line)
            sys.stdout.flush()
