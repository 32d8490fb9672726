"""POST /v1/metrics refusals: exact status and message, the same on every target."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import httpx

pytestmark = pytest.mark.contract

NAME_RULE = "[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL_RULE = "[a-zA-Z_][a-zA-Z0-9_]*"
NOT_JSON = "request body is not valid JSON"

# (body, message); every case is a 400. The order of checks is part of the contract:
# body is UTF-8 -> nesting <= 32 -> JSON -> object or non-empty list -> per sample, in
# order: is an object -> unknown fields (smallest first) -> name -> value -> labels
# (by sorted label name: name rule -> __ prefix -> string -> non-empty).
CASES = [
    (b"", NOT_JSON),
    (b"{", NOT_JSON),
    (b"{}}", NOT_JSON),
    (b'{"name":"a","value":1} x', NOT_JSON),
    (b'{"name":"a","value":NaN}', NOT_JSON),
    (b'{"name":"a","value":-Infinity}', NOT_JSON),
    (b'{"name":"a","value":01}', NOT_JSON),
    (b"{'name':'a'}", NOT_JSON),
    (b"\xff\xfe", NOT_JSON),
    (b'{"name":"\xed\xa0\x80","value":1}', NOT_JSON),
    ("\ufeff{}".encode(), NOT_JSON),
    (b'{"name":"a\x01","value":1}', NOT_JSON),
    (b"[" * 33 + b"]" * 33, "request body nests JSON deeper than 32 levels"),
    (b"[" * 5000, "request body nests JSON deeper than 32 levels"),
    (b"[" * 32 + b"]" * 32, "sample 0: must be a JSON object"),
    (b'"a string"', "request body must be a JSON object or a list of JSON objects"),
    (b"3", "request body must be a JSON object or a list of JSON objects"),
    (b"null", "request body must be a JSON object or a list of JSON objects"),
    (b" [ ] ", "request body must contain at least one sample"),
    (b'[{"name":"a","value":1},"x"]', "sample 1: must be a JSON object"),
    (b'{"name":"a","value":1,"unit":"s","Zed":1}', 'sample 0: unknown field "Zed"'),
    (b'{"name":"a","value":1,"<&>\\u2028":1}', 'sample 0: unknown field "<&>\u2028"'),
    (b'{"value":1}', "sample 0: name is required"),
    (b'{"name":["a"],"value":1}', "sample 0: name must be a string"),
    (b'{"name":"a b","value":1}', f'sample 0: name "a b" does not match {NAME_RULE}'),
    (b'{"name":"0a","value":1}', f'sample 0: name "0a" does not match {NAME_RULE}'),
    (b'{"name":"\\"q\\"","value":1}', f'sample 0: name ""q"" does not match {NAME_RULE}'),
    (b'{"name":"\\ud800","value":1}', f'sample 0: name "\ufffd" does not match {NAME_RULE}'),
    (
        b'{"name":"metrics_api_http_requests_total","value":1}',
        'sample 0: name "metrics_api_http_requests_total" uses the reserved prefix metrics_api_',
    ),
    (b'{"name":"a"}', "sample 0: value is required"),
    (b'{"name":"a","value":"1.5"}', "sample 0: value must be a JSON number"),
    (b'{"name":"a","value":false}', "sample 0: value must be a JSON number"),
    (b'{"name":"a","value":[1]}', "sample 0: value must be a JSON number"),
    (b'{"name":"a","value":2e308}', "sample 0: value must be a finite number"),
    (b'{"name":"a","value":-' + b"9" * 400 + b"}", "sample 0: value must be a finite number"),
    (b'{"name":"a","value":1,"labels":"x=y"}', "sample 0: labels must be a JSON object"),
    (
        b'{"name":"a","value":1,"labels":{"ok":"1","a-b":"2","9":"3"}}',
        f'sample 0: label name "9" does not match {LABEL_RULE}',
    ),
    (
        b'{"name":"a","value":1,"labels":{"__name__":"x"}}',
        'sample 0: label name "__name__" is reserved (starts with __)',
    ),
    (
        b'{"name":"a","value":1,"labels":{"b":"1","a":null}}',
        'sample 0: label "a" value must be a string',
    ),
    (b'{"name":"a","value":1,"labels":{"a":""}}', 'sample 0: label "a" value must not be empty'),
    (
        b'[{"name":"a","value":1},{"name":"b","value":1,"labels":{"x":1}}]',
        'sample 1: label "x" value must be a string',
    ),
]


@pytest.mark.parametrize(("body", "message"), CASES)
def test_refusals(client: httpx.Client, body: bytes, message: str) -> None:
    response = client.post("/v1/metrics", content=body)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": message}


def test_json_duplicate_keys_last_one_wins(client: httpx.Client, unique_name: str) -> None:
    body = f'{{"name":"{unique_name}","value":"x","value":-0}}'.encode()
    assert client.post("/v1/metrics", content=body).status_code == 202
    stats = client.get(f"/v1/metrics/{unique_name}").content
    assert b'"sum":0,"min":0,"max":0,"last":0}' in stats
