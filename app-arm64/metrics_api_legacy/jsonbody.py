"""JSON response bodies, byte-identical to the Go implementation's.

Go's encoding/json (with HTML escaping off) writes compact JSON, escapes
U+2028 and U+2029, and our Go code writes floats in the contract's float
format; json.dumps does neither of the last two, so objects are assembled here
and json.dumps is only used for strings.
"""

from __future__ import annotations

import json
import math
import re

from metrics_api_legacy.floatformat import format_float

_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def encode_json(document: object) -> bytes:
    """Encode a document of dicts, lists, str, int, float, bool and None, plus a newline."""
    return (_encode(document) + "\n").encode("utf-8")


def _encode(value: object) -> str:
    if isinstance(value, dict):
        members = (f"{encode_string(str(key))}:{_encode(item)}" for key, item in value.items())
        return "{" + ",".join(members) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_encode(item) for item in value) + "]"
    return _encode_scalar(value)


def _encode_scalar(value: object) -> str:
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, str):
        return encode_string(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # A non-finite float can only be a sum that overflowed: written as null.
        return format_float(value) if math.isfinite(value) else "null"
    message = f"cannot encode {type(value).__name__} as JSON"
    raise TypeError(message)


def encode_string(text: str) -> str:
    """Quote a string as Go's encoder does (lone surrogates become U+FFFD, as in Go)."""
    quoted = json.dumps(replace_lone_surrogates(text), ensure_ascii=False)
    return quoted.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def replace_lone_surrogates(text: str) -> str:
    """Replace unpaired UTF-16 surrogates with U+FFFD, as Go's JSON decoder does."""
    return _LONE_SURROGATE.sub("\ufffd", text)
