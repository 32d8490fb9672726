"""Property tests of the validation rules: each target against a model written here.

The model restates the rules independently of both implementations: names
[a-zA-Z_:][a-zA-Z0-9_:]* without the metrics_api_ prefix; values finite JSON
numbers (not bool, not string); labels a string->string map whose names match
[a-zA-Z_][a-zA-Z0-9_]* without a __ prefix, with non-empty values.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

if TYPE_CHECKING:
    import httpx

pytestmark = pytest.mark.contract

FAST = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def fresh_name() -> str:
    return f"prop_{uuid.uuid4().hex[:12]}"


def post(client: httpx.Client, body: str) -> httpx.Response:
    return client.post("/v1/metrics", content=body.encode("utf-8"))


def expected_name_error(name: str) -> str | None:
    if METRIC_NAME.fullmatch(name) is None:
        return f'sample 0: name "{name}" does not match [a-zA-Z_:][a-zA-Z0-9_:]*'
    if name.startswith("metrics_api_"):
        return f'sample 0: name "{name}" uses the reserved prefix metrics_api_'
    return None


def expected_label_error(labels: dict[str, object]) -> str | None:
    for key in sorted(labels):
        if LABEL_NAME.fullmatch(key) is None:
            return f'sample 0: label name "{key}" does not match [a-zA-Z_][a-zA-Z0-9_]*'
        if key.startswith("__"):
            return f'sample 0: label name "{key}" is reserved (starts with __)'
        if not isinstance(labels[key], str):
            return f'sample 0: label "{key}" value must be a string'
        if labels[key] == "":
            return f'sample 0: label "{key}" value must not be empty'
    return None


def exposition_label_text(labels: dict[str, str]) -> str:
    def escape(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{escape(labels[key])}"' for key in sorted(labels)) + "}"


@FAST
@given(name=st.one_of(st.text(max_size=12), st.from_regex(METRIC_NAME, fullmatch=True)))
def test_metric_names(client: httpx.Client, name: str) -> None:
    response = post(client, json.dumps({"name": name, "value": 1}))
    error = expected_name_error(name)
    if error is not None:
        assert (response.status_code, response.json()) == (400, {"error": error})
        return
    assert (response.status_code, response.json()) == (202, {"accepted": 1})
    stats = client.get(f"/v1/metrics/{name}")
    assert stats.status_code == 200
    assert stats.json()["name"] == name


JSON_NUMBERS = st.one_of(
    st.floats(),
    st.integers(),
    st.integers(min_value=10**300, max_value=10**320),
    st.sampled_from([0.0, -0.0, 1e21, 0.1, 5e-324, 1.7976931348623157e308]),
)
NOT_NUMBERS = st.one_of(
    st.booleans(), st.none(), st.text(max_size=5), st.lists(st.integers(), max_size=2)
)


@FAST
@given(value=st.one_of(JSON_NUMBERS, NOT_NUMBERS))
def test_values(client: httpx.Client, value: object) -> None:
    name = fresh_name()
    response = post(client, json.dumps({"name": name, "value": value}))  # NaN/Infinity as tokens
    if isinstance(value, float) and not math.isfinite(value):
        assert (response.status_code, response.json()) == (
            400,
            {"error": "request body is not valid JSON"},
        )
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        expected = {"error": "sample 0: value must be a JSON number"}
        assert (response.status_code, response.json()) == (400, expected)
        return
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        expected = {"error": "sample 0: value must be a finite number"}
        assert (response.status_code, response.json()) == (400, expected)
        return
    assert response.status_code == 202
    stats = client.get(f"/v1/metrics/{name}").json()
    assert stats["last"] == number
    assert stats["sum"] == number
    if number == 0:
        assert math.copysign(1.0, stats["last"]) == 1.0  # -0 is stored as 0
    gauge = next(
        line for line in client.get("/metrics").text.splitlines() if line.startswith(name + " ")
    )
    assert float(gauge.split(" ")[1]) == number


LABEL_KEYS = st.one_of(st.text(max_size=6), st.from_regex(LABEL_NAME, fullmatch=True))
LABEL_VALUES = st.one_of(st.text(max_size=8), st.integers(), st.none())


@FAST
@given(labels=st.dictionaries(LABEL_KEYS, LABEL_VALUES, max_size=4))
def test_labels(client: httpx.Client, labels: dict[str, object]) -> None:
    name = fresh_name()
    response = post(client, json.dumps({"name": name, "value": 2.5, "labels": labels}))
    error = expected_label_error(labels)
    if error is not None:
        assert (response.status_code, response.json()) == (400, {"error": error})
        return
    assert response.status_code == 202
    string_labels = {key: str(value) for key, value in labels.items()}
    filtered = client.get(f"/v1/metrics/{name}", params=string_labels)
    assert (filtered.status_code, filtered.json()["count"]) == (200, 1)
    expected_line = f"{name}{exposition_label_text(string_labels)} 2.5"
    assert expected_line in client.get("/metrics").text.split("\n")


@FAST
@given(samples=st.lists(st.sampled_from([1.0, -3.0, 0.5, 1e300, 7.0]), min_size=1, max_size=6))
def test_aggregates_follow_arrival_order(client: httpx.Client, samples: list[float]) -> None:
    name = fresh_name()
    response = post(client, json.dumps([{"name": name, "value": v} for v in samples]))
    assert (response.status_code, response.json()) == (202, {"accepted": len(samples)})
    total = 0.0
    for value in samples:
        total += value
    assert client.get(f"/v1/metrics/{name}").json() == {
        "name": name,
        "count": len(samples),
        "sum": total,
        "min": min(samples),
        "max": max(samples),
        "last": samples[-1],
    }
