"""The contract's one float format, shared with the Go implementation.

It is Go's ``strconv.FormatFloat(v, 'g', -1, 64)``, the format Prometheus
clients write: the shortest digits that read back as the same float, in
exponent form when the decimal exponent is below -4 or at least 6, else in
plain form. Examples: 3 -> "3", 0.1 -> "0.1", 123456 -> "123456",
1e6 -> "1e+06", 1e21 -> "1e+21", 1e-5 -> "1e-05", 0.0001 -> "0.0001".
Python's repr differs ("3.0", "1000000.0"), so it is only used for its digits:
both languages produce the same shortest round-trip digits.
"""

from __future__ import annotations

import math

# Go switches to exponent form when the exponent is < -4 or >= this.
_EXPONENT_FORM_FROM = 6
_EXPONENT_FORM_BELOW = -4


def format_float(value: float) -> str:
    """Format a float exactly as Go's strconv.FormatFloat(value, 'g', -1, 64)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    digits, point = _shortest_digits(abs(value))
    if not digits:
        return sign + "0"
    exponent = point - 1
    if exponent < _EXPONENT_FORM_BELOW or exponent >= _EXPONENT_FORM_FROM:
        return sign + _exponent_form(digits, exponent)
    return sign + _plain_form(digits, point)


def _exponent_form(digits: str, exponent: int) -> str:
    """d.ddde+XX, with at least two exponent digits, as Go writes it."""
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    exponent_sign = "-" if exponent < 0 else "+"
    return f"{mantissa}e{exponent_sign}{abs(exponent):02d}"


def _plain_form(digits: str, point: int) -> str:
    """Digits with the decimal point at position point, padded with zeros."""
    if point <= 0:
        return f"0.{'0' * -point}{digits}"
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return f"{digits[:point]}.{digits[point:]}"


def _shortest_digits(value: float) -> tuple[str, int]:
    """Return the significant digits D and point P with value == 0.D * 10**P."""
    mantissa, _, exponent = repr(value).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + int(exponent or "0")
    significant = digits.lstrip("0")
    point -= len(digits) - len(significant)
    return significant.rstrip("0"), point
