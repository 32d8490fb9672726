"""The contract float format: the Go table, and round trips."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from metrics_api_legacy.floatformat import format_float

# The same table is in app-amd64/floatformat_test.go.
CASES = [
    (0.0, "0"),
    (3.0, "3"),
    (-2.5, "-2.5"),
    (0.1, "0.1"),
    (123456.0, "123456"),
    (999999.0, "999999"),
    (1e6, "1e+06"),
    (1234567.0, "1.234567e+06"),
    (1e21, "1e+21"),
    (1e100, "1e+100"),
    (0.0001, "0.0001"),
    (1e-5, "1e-05"),
    (0.00001234, "1.234e-05"),
    (5e-324, "5e-324"),
    (1.7976931348623157e308, "1.7976931348623157e+308"),
    (float(2**53), "9.007199254740992e+15"),
    (0.30000000000000004, "0.30000000000000004"),
]


@pytest.mark.parametrize(("value", "expected"), CASES)
def test_format_float_matches_go(value: float, expected: str) -> None:
    assert format_float(value) == expected


def test_format_float_special_values_match_go() -> None:
    assert format_float(-0.0) == "-0"
    assert format_float(math.inf) == "+Inf"
    assert format_float(-math.inf) == "-Inf"
    assert format_float(math.nan) == "NaN"


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_format_float_round_trips(value: float) -> None:
    text = format_float(value)
    assert float(text) == value
    assert "e" not in text or text[text.index("e") + 1] in "+-"
