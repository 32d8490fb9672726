"""POST /v1/metrics validation: the same cases and messages as the Go tests."""

import math

import pytest
from metrics_api_legacy.errors import ClientError
from metrics_api_legacy.ingest import (
    MSG_EMPTY_LIST,
    MSG_NOT_JSON,
    MSG_TOO_DEEP,
    MSG_WRONG_SHAPE,
    Sample,
    json_depth,
    parse_samples,
)

NAME_RULE = "[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL_RULE = "[a-zA-Z_][a-zA-Z0-9_]*"

# The same table is in app-amd64/ingest_test.go.
ERROR_CASES = [
    (b"", MSG_NOT_JSON),
    (b"{", MSG_NOT_JSON),
    (b'{"name":"a","value":1} x', MSG_NOT_JSON),
    (b'{"name":"a","value":NaN}', MSG_NOT_JSON),
    (b'{"name":"a","value":Infinity}', MSG_NOT_JSON),
    (b"\xff", MSG_NOT_JSON),
    ("\ufeff{}".encode(), MSG_NOT_JSON),
    (b"[" * 33 + b"]" * 33, MSG_TOO_DEEP),
    (b"[" * 40, MSG_TOO_DEEP),
    (b'"text"', MSG_WRONG_SHAPE),
    (b"42", MSG_WRONG_SHAPE),
    (b"null", MSG_WRONG_SHAPE),
    (b"[]", MSG_EMPTY_LIST),
    (b"[1]", "sample 0: must be a JSON object"),
    (b'[{"name":"a","value":1},[]]', "sample 1: must be a JSON object"),
    (b'{"name":"a","value":1,"zeta":1,"extra":2}', 'sample 0: unknown field "extra"'),
    (b'{"value":1}', "sample 0: name is required"),
    (b'{"name":null,"value":1}', "sample 0: name must be a string"),
    (b'{"name":"1a","value":1}', f'sample 0: name "1a" does not match {NAME_RULE}'),
    (b'{"name":"","value":1}', f'sample 0: name "" does not match {NAME_RULE}'),
    (b'{"name":"caf\\u00e9","value":1}', f'sample 0: name "caf\u00e9" does not match {NAME_RULE}'),
    (
        b'{"name":"metrics_api_x","value":1}',
        'sample 0: name "metrics_api_x" uses the reserved prefix metrics_api_',
    ),
    (b'{"name":"a"}', "sample 0: value is required"),
    (b'{"name":"a","value":"1"}', "sample 0: value must be a JSON number"),
    (b'{"name":"a","value":true}', "sample 0: value must be a JSON number"),
    (b'{"name":"a","value":null}', "sample 0: value must be a JSON number"),
    (b'{"name":"a","value":1e400}', "sample 0: value must be a finite number"),
    (b'{"name":"a","value":-1e400}', "sample 0: value must be a finite number"),
    (b'{"name":"a","value":1' + b"0" * 400 + b"}", "sample 0: value must be a finite number"),
    (b'{"name":"a","value":1,"labels":null}', "sample 0: labels must be a JSON object"),
    (b'{"name":"a","value":1,"labels":["x"]}', "sample 0: labels must be a JSON object"),
    (
        b'{"name":"a","value":1,"labels":{"b":"1","a:b":"2"}}',
        f'sample 0: label name "a:b" does not match {LABEL_RULE}',
    ),
    (
        b'{"name":"a","value":1,"labels":{"__x":"1"}}',
        'sample 0: label name "__x" is reserved (starts with __)',
    ),
    (b'{"name":"a","value":1,"labels":{"x":1}}', 'sample 0: label "x" value must be a string'),
    (b'{"name":"a","value":1,"labels":{"x":""}}', 'sample 0: label "x" value must not be empty'),
    (b'{"name":"1a","value":"x","extra":1}', 'sample 0: unknown field "extra"'),
    (b'{"name":"1a","value":"x"}', f'sample 0: name "1a" does not match {NAME_RULE}'),
]


@pytest.mark.parametrize(("body", "message"), ERROR_CASES)
def test_parse_samples_reports_the_first_error_in_contract_order(body: bytes, message: str) -> None:
    with pytest.raises(ClientError) as caught:
        parse_samples(body)
    assert caught.value.status == 400
    assert caught.value.message == message


def test_parse_samples_accepts_one_object_or_a_list() -> None:
    assert parse_samples(b'{"name":"up","value":1}') == [Sample("up", 1.0, {})]
    assert parse_samples(
        b'[{"name":"a:b","value":-2.5,"labels":{"host":"x"}},{"name":"_c","value":1e300}]'
    ) == [Sample("a:b", -2.5, {"host": "x"}), Sample("_c", 1e300, {})]


def test_parse_samples_reads_integers_as_floats_and_normalises_negative_zero() -> None:
    [big, zero] = parse_samples(
        b'[{"name":"a","value":12345678901234567890},{"name":"a","value":-0}]'
    )
    assert big.value == 12345678901234567890.0
    assert type(big.value) is float
    assert math.copysign(1.0, zero.value) == 1.0


def test_parse_samples_last_duplicate_key_wins_as_in_go() -> None:
    [sample] = parse_samples(b'{"name":"a","value":"x","value":2}')
    assert sample.value == 2.0


def test_parse_samples_replaces_lone_surrogates_as_go_does() -> None:
    [sample] = parse_samples(
        b'{"name":"a","value":1,"labels":{"x":"\\ud800!","y":"\\ud83d\\ude00"}}'
    )
    assert sample.labels == {"x": "\ufffd!", "y": "\U0001f600"}


def test_parse_samples_is_all_or_nothing() -> None:
    with pytest.raises(ClientError):
        parse_samples(b'[{"name":"ok","value":1},{"name":"ok","value":"bad"}]')


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("{}", 1),
        ('[{"a":{"b":[]}}]', 4),
        ('["[[[[", "\\"[["]', 1),
        ('"unterminated [[[', 0),
        ("]]][[", 0),
        ('{"a":"\\\\"}[', 1),
        ('["\\\\\\"[", {"b":[]}]', 3),
    ],
)
def test_json_depth_matches_go(text: str, depth: int) -> None:
    assert json_depth(text) == depth
