"""The ?label=value filter parser."""

import pytest
from metrics_api_legacy.errors import ClientError
from metrics_api_legacy.query import (
    MSG_QUERY_MALFORMED,
    MSG_QUERY_NAME,
    matches,
    parse_label_filter,
)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (b"", {}),
        (b"host=a", {"host": "a"}),
        (b"host=a&&zone=b&", {"host": "a", "zone": "b"}),
        (b"host", {"host": ""}),
        (b"host=a+b%2B%C3%A9", {"host": "a b+\u00e9"}),
        (b"host=a=b", {"host": "a=b"}),
        (b"h%6Fst=x", {"host": "x"}),
    ],
)
def test_parse_label_filter(query: bytes, expected: dict[str, str]) -> None:
    assert parse_label_filter(query) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (b"host=%zz", MSG_QUERY_MALFORMED),
        (b"host=%4", MSG_QUERY_MALFORMED),
        (b"%=a", MSG_QUERY_MALFORMED),
        (b"9host=a", MSG_QUERY_NAME),
        (b"__name__=a", MSG_QUERY_NAME),
        (b"=a", MSG_QUERY_NAME),
        (b"a:b=1", MSG_QUERY_NAME),
        (b"host=a&host=b", 'query parameter "host" is repeated'),
        (b"host=a&9=x&bad=%", MSG_QUERY_NAME),
        (b"9=x&host=%zz", MSG_QUERY_NAME),
    ],
)
def test_parse_label_filter_errors(query: bytes, message: str) -> None:
    with pytest.raises(ClientError) as caught:
        parse_label_filter(query)
    assert caught.value.message == message


def test_invalid_utf8_in_a_filter_value_matches_no_label() -> None:
    label_filter = parse_label_filter(b"host=%ff")
    assert not matches(label_filter, {"host": "\ufffd"})


def test_matches() -> None:
    labels = {"host": "a", "zone": "b"}
    assert matches({}, labels)
    assert matches({"host": "a"}, labels)
    assert not matches({"host": "b"}, labels)
    assert not matches({"rack": ""}, labels)
