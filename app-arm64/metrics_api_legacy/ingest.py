"""Validation of POST /v1/metrics bodies.

The checks run in the same fixed order as in the Go implementation, and the
messages are the same strings, so both report the same first error.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, NoReturn

from metrics_api_legacy.errors import ClientError, bad_request
from metrics_api_legacy.jsonbody import replace_lone_surrogates
from metrics_api_legacy.names import (
    LABEL_NAME_RULE,
    METRIC_NAME_RULE,
    RESERVED_LABEL_PREFIX,
    RESERVED_METRIC_PREFIX,
    is_label_name,
    is_metric_name,
)

MAX_BODY_BYTES = 1 << 20
MAX_JSON_DEPTH = 32

MSG_NOT_JSON = "request body is not valid JSON"
MSG_TOO_DEEP = "request body nests JSON deeper than 32 levels"
MSG_WRONG_SHAPE = "request body must be a JSON object or a list of JSON objects"
MSG_EMPTY_LIST = "request body must contain at least one sample"
MSG_TOO_LARGE = "request body exceeds 1048576 bytes"
MSG_CHUNKED = "chunked request bodies are not supported; send Content-Length"
MSG_UNREADABLE = "request body could not be read"

SAMPLE_FIELDS = frozenset({"name", "value", "labels"})

# A string (possibly unterminated) or a bracket: the same scan as Go's jsonDepth.
_STRUCTURE = re.compile(r'"(?:[^"\\]++|\\.)*+"?|[\[\]{}]', re.DOTALL)


@dataclass(frozen=True)
class Sample:
    """One validated metric sample."""

    name: str
    value: float
    labels: dict[str, str]


def too_large() -> ClientError:
    """Return the 413 for a body over MAX_BODY_BYTES."""
    return ClientError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, MSG_TOO_LARGE)


def parse_samples(body: bytes) -> list[Sample]:
    """Validate a whole body; one bad sample rejects all of them."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request(MSG_NOT_JSON) from None
    if json_depth(text) > MAX_JSON_DEPTH:
        raise bad_request(MSG_TOO_DEEP)
    document = _decode(text)
    if isinstance(document, dict):
        items: list[object] = [document]
    elif isinstance(document, list):
        if not document:
            raise bad_request(MSG_EMPTY_LIST)
        items = document
    else:
        raise bad_request(MSG_WRONG_SHAPE)
    return [_parse_sample(index, item) for index, item in enumerate(items)]


def json_depth(text: str) -> int:
    """Return the deepest bracket nesting outside strings; it bounds the parser's recursion."""
    depth = deepest = 0
    for match in _STRUCTURE.finditer(text):
        token = match.group()
        if token in {"[", "{"}:
            depth += 1
            deepest = max(deepest, depth)
        elif token in {"]", "}"}:
            depth -= 1
    return deepest


def _decode(text: str) -> object:
    """Parse JSON as Go does: numbers as floats, no NaN/Infinity, lone surrogates as U+FFFD."""
    try:
        return _DECODER.decode(text)
    except (ValueError, RecursionError):
        raise bad_request(MSG_NOT_JSON) from None


def _reject_constant(name: str) -> NoReturn:
    """NaN and Infinity are not JSON; Python's parser would accept them."""
    message = f"{name} is not JSON"
    raise ValueError(message)


def _object_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build an object as Go does: the last duplicate wins, lone surrogates become U+FFFD."""
    return {
        replace_lone_surrogates(key): replace_lone_surrogates(value)
        if isinstance(value, str)
        else value
        for key, value in pairs
    }


# parse_int=float: every JSON number is a float, as in Go, and a huge integer
# literal becomes inf (refused as not finite) instead of an exact int.
_DECODER = json.JSONDecoder(
    object_pairs_hook=_object_hook,
    parse_int=float,
    parse_constant=_reject_constant,
)


def _sample_error(index: int, message: str) -> ClientError:
    return bad_request(f"sample {index}: {message}")


def _parse_sample(index: int, item: object) -> Sample:
    if not isinstance(item, dict):
        raise _sample_error(index, "must be a JSON object")
    unknown = sorted(set(item) - SAMPLE_FIELDS)
    if unknown:
        raise _sample_error(index, f'unknown field "{unknown[0]}"')
    return Sample(
        name=_parse_name(index, item),
        value=_parse_value(index, item),
        labels=_parse_labels(index, item),
    )


def _parse_name(index: int, fields: dict[str, object]) -> str:
    if "name" not in fields:
        raise _sample_error(index, "name is required")
    name = fields["name"]
    if not isinstance(name, str):
        raise _sample_error(index, "name must be a string")
    if not is_metric_name(name):
        raise _sample_error(index, f'name "{name}" does not match {METRIC_NAME_RULE}')
    if name.startswith(RESERVED_METRIC_PREFIX):
        raise _sample_error(
            index, f'name "{name}" uses the reserved prefix {RESERVED_METRIC_PREFIX}'
        )
    return name


def _parse_value(index: int, fields: dict[str, object]) -> float:
    if "value" not in fields:
        raise _sample_error(index, "value is required")
    value = fields["value"]
    if type(value) is not float:  # bool is an int subclass; ints were parsed as floats
        raise _sample_error(index, "value must be a JSON number")
    if not math.isfinite(value):
        raise _sample_error(index, "value must be a finite number")
    # Both implementations store -0 as 0, so "-0" never appears in an answer.
    return 0.0 if value == 0 else value


def _parse_labels(index: int, fields: dict[str, object]) -> dict[str, str]:
    if "labels" not in fields:
        return {}
    raw = fields["labels"]
    if not isinstance(raw, dict):
        raise _sample_error(index, "labels must be a JSON object")
    labels: dict[str, str] = {}
    for key in sorted(raw):
        if not is_label_name(key):
            raise _sample_error(index, f'label name "{key}" does not match {LABEL_NAME_RULE}')
        if key.startswith(RESERVED_LABEL_PREFIX):
            raise _sample_error(index, f'label name "{key}" is reserved (starts with __)')
        value = raw[key]
        if not isinstance(value, str):
            raise _sample_error(index, f'label "{key}" value must be a string')
        if not value:
            raise _sample_error(index, f'label "{key}" value must not be empty')
        labels[key] = value
    return labels
