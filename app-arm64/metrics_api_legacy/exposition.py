"""The Prometheus text exposition of GET /metrics.

Families are sorted by name and lines by their label text (code-point order,
which is Go's byte order for UTF-8); stored series are gauges with their last
value in the contract's float format; the request counter is written in
integers; a family without series is left out; every line ends with a newline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from metrics_api_legacy.floatformat import format_float

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
REQUESTS_METRIC = "metrics_api_http_requests_total"
REQUESTS_HELP = "HTTP requests handled, by route template and status code."


def render_labels(labels: Mapping[str, str]) -> str:
    """Write a label set as {a="1",b="2"}, names sorted, values escaped; {} is ""."""
    if not labels:
        return ""
    pairs = (f'{name}="{_escape(labels[name])}"' for name in sorted(labels))
    return "{" + ",".join(pairs) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_exposition(
    gauges: Iterable[tuple[str, str, float]],
    requests: Iterable[tuple[str, int, int]],
) -> str:
    """Render (name, label text, last value) gauges and (route, status, count) counters."""
    headers: dict[str, str] = {}
    lines: dict[str, list[tuple[str, str]]] = {}
    for name, label_text, value in gauges:
        headers.setdefault(name, f"# TYPE {name} gauge\n")
        lines.setdefault(name, []).append((label_text, format_float(value)))
    for route, status, count in requests:
        headers[REQUESTS_METRIC] = (
            f"# HELP {REQUESTS_METRIC} {REQUESTS_HELP}\n# TYPE {REQUESTS_METRIC} counter\n"
        )
        label_text = render_labels({"route": route, "status": str(status)})
        lines.setdefault(REQUESTS_METRIC, []).append((label_text, str(count)))
    chunks: list[str] = []
    for name in sorted(headers):
        chunks.append(headers[name])
        chunks.extend(f"{name}{text} {value}\n" for text, value in sorted(lines[name]))
    return "".join(chunks)
