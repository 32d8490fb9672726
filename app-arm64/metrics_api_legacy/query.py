"""The ?label=value filter of GET /v1/metrics/{name}.

The raw query is read pair by pair, in order, exactly as the Go implementation
does, so the first problem reported is the same: pairs are separated by "&",
empty pairs are skipped, a pair without "=" has the empty value, "+" is a
space, and a "%" must start a two-digit hex escape.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from metrics_api_legacy.errors import bad_request
from metrics_api_legacy.names import RESERVED_LABEL_PREFIX, is_label_name

MSG_QUERY_MALFORMED = "query string is malformed"
MSG_QUERY_NAME = (
    "query parameter names must be label names matching [a-zA-Z_][a-zA-Z0-9_]* "
    "and not starting with __"
)

_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")


def parse_label_filter(raw_query: bytes) -> dict[str, str]:
    """Return the filter; a repeated name is refused, as a label has one value."""
    label_filter: dict[str, str] = {}
    for pair in raw_query.split(b"&"):
        if not pair:
            continue
        raw_key, _, raw_value = pair.partition(b"=")
        key, value = _unescape(raw_key), _unescape(raw_value)
        if not is_label_name(key) or key.startswith(RESERVED_LABEL_PREFIX):
            raise bad_request(MSG_QUERY_NAME)
        if key in label_filter:
            raise bad_request(f'query parameter "{key}" is repeated')
        label_filter[key] = value
    return label_filter


def _unescape(raw: bytes) -> str:
    """Decode like Go's url.QueryUnescape; invalid UTF-8 is kept apart with surrogateescape.

    Such text never equals a stored label value, just as Go's raw bytes never do.
    """
    if _BAD_ESCAPE.search(raw):
        raise bad_request(MSG_QUERY_MALFORMED)
    return unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8", "surrogateescape")


def matches(label_filter: dict[str, str], labels: dict[str, str]) -> bool:
    """Whether every filter pair is among the labels."""
    return all(labels.get(key) == value for key, value in label_filter.items())
