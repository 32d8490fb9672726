"""Differential tests: the same requests to every target must get the same answers.

Answers are compared byte for byte (status, Content-Type, Allow, body), except
the implementation and arch fields of /version. On services that other tests
also use, /metrics is compared on the families this test wrote; on fresh
processes, the whole exposition is compared, request counter included.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import TYPE_CHECKING, Protocol

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = pytest.mark.contract

FAST = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
IDENTITY_FIELDS = re.compile(rb'"(implementation|arch)":"[^"]*"')

Answer = tuple[int, str | None, str | None, bytes]


class RunningService(Protocol):
    """What these tests use of a process started by the `launcher` fixture."""

    url: str


def answer(response: httpx.Response) -> Answer:
    body = IDENTITY_FIELDS.sub(rb'"\1":"*"', response.content)
    return (
        response.status_code,
        response.headers.get("content-type"),
        response.headers.get("allow"),
        body,
    )


def ask_all(
    clients: dict[str, httpx.Client], method: str, path: str, body: bytes | None = None
) -> dict[str, Answer]:
    return {tid: answer(c.request(method, path, content=body)) for tid, c in clients.items()}


def assert_same(answers: dict[str, Answer], what: str) -> None:
    (first_id, first), *others = answers.items()
    for other_id, other in others:
        assert other == first, f"{what}: {other_id} answered {other!r}, {first_id} {first!r}"


def exposition_lines(text: str, prefix: str) -> list[str]:
    """The lines of the families whose names start with prefix."""
    return [
        line
        for line in text.split("\n")
        if line.startswith((prefix, f"# TYPE {prefix}", f"# HELP {prefix}"))
    ]


def script(prefix: str) -> list[tuple[str, str, bytes | None]]:
    """A sequence of requests touching every route, rule and format."""
    a, b = f"{prefix}a", f"{prefix}b"
    samples = [
        {"name": a, "value": 0.1, "labels": {"host": "x", "zone": 'q"\\\n\u00e9\u2028<>&'}},
        {"name": a, "value": 0.2, "labels": {"host": "x", "zone": 'q"\\\n\u00e9\u2028<>&'}},
        {"name": a, "value": 3, "labels": {"host": "y"}},
        {"name": b, "value": 12345678901234567890},
        {"name": b, "value": -0.0},
        {"name": b, "value": 1e-7},
        {"name": b, "value": 123456.789},
        {"name": b, "value": 1e21},
    ]
    requests: list[tuple[str, str, bytes | None]] = [
        ("GET", "/healthz", None),
        ("GET", "/version", None),
        ("HEAD", "/version", None),
        ("POST", "/v1/metrics", json.dumps(samples).encode()),
        ("POST", "/v1/metrics", json.dumps({"name": a, "value": 1e6}).encode()),
        ("POST", "/v1/metrics", b'[{"name":"ok","value":1},{"name":"x","value":1,"bad":2}]'),
        ("POST", "/v1/metrics", b'{"name":"\\u2028<&>","value":1}'),
        ("POST", "/v1/metrics", b'{"name":"a","value":1,"labels":{"\\ud800":"x"}}'),
        ("POST", "/v1/metrics", b"[]"),
        ("POST", "/v1/metrics", b"nope"),
        ("GET", f"/v1/metrics/{a}", None),
        ("GET", f"/v1/metrics/{a}?host=x", None),
        ("GET", f"/v1/metrics/{a}?zone=q%22%5C%0A%C3%A9%E2%80%A8%3C%3E%26", None),
        ("GET", f"/v1/metrics/{a}?host=y&&host", None),
        ("GET", f"/v1/metrics/{a}?host=nobody", None),
        ("GET", f"/v1/metrics/{b}", None),
        ("GET", f"/v1/metrics/{b}?__x=1", None),
        ("GET", f"/v1/metrics/{prefix}missing", None),
        ("GET", "/v1/metrics/%ff%fe", None),
        ("DELETE", f"/v1/metrics/{a}", None),
        ("GET", "/v1/metrics", None),
        ("PUT", "/healthz", None),
        ("GET", "/nowhere", None),
        ("GET", "/healthz/", None),
        ("GET", "/%68ealthz", None),
        ("GET", "/v1/metrics/a%2Fb", None),
    ]
    return requests


@pytest.fixture
def prefix() -> str:
    return f"diff_{uuid.uuid4().hex[:10]}_"


def compare_script(clients: dict[str, httpx.Client], prefix: str) -> dict[str, str]:
    """Run the script on every target, compare each answer; returns each /metrics text."""
    for method, path, body in script(prefix):
        assert_same(ask_all(clients, method, path, body), f"{method} {path}")
    return {tid: c.get("/metrics").text for tid, c in clients.items()}


def test_same_requests_same_answers(clients: dict[str, httpx.Client], prefix: str) -> None:
    if len(clients) < 2:
        pytest.skip("a differential test needs at least two targets")
    texts = compare_script(clients, prefix)
    families = {tid: exposition_lines(text, prefix) for tid, text in texts.items()}
    (first_id, first), *others = families.items()
    assert first, "the script stored no series"
    for other_id, other in others:
        assert other == first, f"/metrics of {other_id} and {first_id} differ"


def test_fresh_processes_expose_identical_metrics(
    launcher: Callable[[str], RunningService], prefix: str
) -> None:
    started = {name: launcher(name) for name in ("go", "python")}
    clients = {name: httpx.Client(base_url=s.url, timeout=10) for name, s in started.items()}
    try:
        texts = compare_script(clients, prefix)
    finally:
        for http in clients.values():
            http.close()
    assert texts["go"] == texts["python"]
    assert 'metrics_api_http_requests_total{route="unmatched",status="404"} 2\n' in texts["go"]


JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
)
JSON_DOCUMENTS = st.recursive(
    JSON_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
SAMPLE_LIKE = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(
            st.sampled_from(["fuzz_a", "fuzz:b", "9x", "metrics_api_x"]), JSON_SCALARS
        ),
        "value": st.one_of(JSON_SCALARS, st.sampled_from([1e308, -0.0, 0.1])),
        "labels": st.one_of(
            st.dictionaries(st.sampled_from(["a", "__b", "c-d", ""]), JSON_SCALARS, max_size=3),
            JSON_SCALARS,
        ),
        "extra": JSON_SCALARS,
    },
)
BODIES = st.one_of(
    JSON_DOCUMENTS.map(lambda d: json.dumps(d).encode()),
    SAMPLE_LIKE.map(lambda d: json.dumps(d).encode()),
    st.lists(SAMPLE_LIKE, max_size=3).map(lambda d: json.dumps(d).encode()),
    st.binary(max_size=40),
)


@FAST
@given(body=BODIES)
def test_any_body_gets_the_same_answer(clients: dict[str, httpx.Client], body: bytes) -> None:
    if len(clients) < 2:
        pytest.skip("a differential test needs at least two targets")
    assert_same(ask_all(clients, "POST", "/v1/metrics", body), f"POST {body!r}")


QUERY_TEXT = st.text(alphabet="ab_9=&+%2Fz;:é", max_size=12)


@FAST
@given(suffix=st.sampled_from(["a", "b", "missing", "", "%61"]), query=QUERY_TEXT)
def test_any_stats_query_gets_the_same_answer(
    clients: dict[str, httpx.Client], suffix: str, query: str
) -> None:
    if len(clients) < 2:
        pytest.skip("a differential test needs at least two targets")
    base = "fuzzq_"
    for http in clients.values():
        http.post(
            "/v1/metrics",
            content=b'[{"name":"fuzzq_a","value":1,"labels":{"a":"b","b":" "}},'
            b'{"name":"fuzzq_a","value":2,"labels":{"a":"%"}},{"name":"fuzzq_b","value":3}]',
        )
    path = f"/v1/metrics/{base}{suffix}?{query}"
    assert_same(ask_all(clients, "GET", path), f"GET {path}")


@FAST
@given(
    values=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=4),
    label=st.text(min_size=1, max_size=8),
)
def test_numbers_and_labels_are_written_identically(
    clients: dict[str, httpx.Client], values: list[float], label: str
) -> None:
    if len(clients) < 2:
        pytest.skip("a differential test needs at least two targets")
    name = f"fmt_{uuid.uuid4().hex[:12]}"
    samples = [{"name": name, "value": v, "labels": {"l": label}} for v in values]
    assert_same(ask_all(clients, "POST", "/v1/metrics", json.dumps(samples).encode()), "POST")
    assert_same(ask_all(clients, "GET", f"/v1/metrics/{name}"), f"GET /v1/metrics/{name}")
    lines = {tid: exposition_lines(c.get("/metrics").text, name) for tid, c in clients.items()}
    (first_id, first), *others = lines.items()
    assert len(first) == 2, first
    for other_id, other in others:
        assert other == first, f"/metrics of {other_id} and {first_id} differ"
