"""Each endpoint of the contract, example by example, against every target."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import httpx

pytestmark = pytest.mark.contract

JSON = "application/json"
EXPOSITION = "text/plain; version=0.0.4; charset=utf-8"


def post(client: httpx.Client, document: object) -> httpx.Response:
    return client.post("/v1/metrics", content=json.dumps(document).encode())


def assert_json(response: httpx.Response, status: int, body: bytes) -> None:
    assert (response.status_code, response.content) == (status, body)
    assert response.headers["content-type"] == JSON


def test_healthz(client: httpx.Client) -> None:
    assert_json(client.get("/healthz"), 200, b'{"status":"ok"}\n')


def test_version_names_the_implementation_and_arch(
    client: httpx.Client, target: dict[str, str]
) -> None:
    response = client.get("/version")
    assert response.status_code == 200
    assert response.headers["content-type"] == JSON
    body = response.json()
    assert list(body) == ["service", "version", "revision", "implementation", "os", "arch"]
    assert body["service"] == "metrics-api"
    assert body["implementation"] == target["implementation"]
    assert body["arch"] == target["arch"]
    assert body["os"] == "linux"
    assert isinstance(body["version"], str)
    assert body["version"]
    assert isinstance(body["revision"], str)
    assert body["revision"]


def test_ingest_one_sample_then_read_stats(client: httpx.Client, unique_name: str) -> None:
    accepted = post(client, {"name": unique_name, "value": 3, "labels": {"room": "a"}})
    assert_json(accepted, 202, b'{"accepted":1}\n')
    stats = client.get(f"/v1/metrics/{unique_name}")
    expected = f'{{"name":"{unique_name}","count":1,"sum":3,"min":3,"max":3,"last":3}}\n'
    assert_json(stats, 200, expected.encode())


def test_ingest_a_list_and_aggregate(client: httpx.Client, unique_name: str) -> None:
    samples = [
        {"name": unique_name, "value": 0.5, "labels": {"room": "a", "floor": "1"}},
        {"name": unique_name, "value": -2, "labels": {"room": "b"}},
        {"name": unique_name, "value": 1e21},
        {"name": unique_name, "value": 0.25, "labels": {"floor": "1", "room": "a"}},
    ]
    assert_json(post(client, samples), 202, b'{"accepted":4}\n')
    everything = client.get(f"/v1/metrics/{unique_name}").json()
    assert everything == {
        "name": unique_name,
        "count": 4,
        "sum": 1e21,
        "min": -2,
        "max": 1e21,
        "last": 0.25,
    }
    room_a = client.get(f"/v1/metrics/{unique_name}", params={"room": "a", "floor": "1"})
    expected = f'{{"name":"{unique_name}","count":2,"sum":0.75,"min":0.25,"max":0.5,"last":0.25}}\n'
    assert_json(room_a, 200, expected.encode())


def test_a_list_is_all_or_nothing(client: httpx.Client, unique_name: str) -> None:
    response = post(
        client, [{"name": unique_name, "value": 1}, {"name": unique_name, "value": "x"}]
    )
    assert_json(response, 400, b'{"error":"sample 1: value must be a JSON number"}\n')
    assert_json(client.get(f"/v1/metrics/{unique_name}"), 404, b'{"error":"metric not found"}\n')


def test_stats_lookups_that_find_nothing(client: httpx.Client, unique_name: str) -> None:
    assert_json(client.get(f"/v1/metrics/{unique_name}"), 404, b'{"error":"metric not found"}\n')
    post(client, {"name": unique_name, "value": 1, "labels": {"room": "a"}})
    no_match = b'{"error":"no series of this metric match the label filter"}\n'
    assert_json(client.get(f"/v1/metrics/{unique_name}?room=b"), 404, no_match)
    assert_json(client.get(f"/v1/metrics/{unique_name}?rack=a"), 404, no_match)
    repeated = client.get(f"/v1/metrics/{unique_name}?room=a&room=a")
    assert_json(repeated, 400, b'{"error":"query parameter \\"room\\" is repeated"}\n')
    malformed = client.get(f"/v1/metrics/{unique_name}?room=%zz")
    assert_json(malformed, 400, b'{"error":"query string is malformed"}\n')
    bad_name = client.get(f"/v1/metrics/{unique_name}?__name__=x")
    assert bad_name.status_code == 400
    assert bad_name.json()["error"].startswith("query parameter names must be label names")


def test_sum_overflow_is_null(client: httpx.Client, unique_name: str) -> None:
    post(client, [{"name": unique_name, "value": 1.7976931348623157e308}] * 2)
    body = client.get(f"/v1/metrics/{unique_name}").content
    assert b'"sum":null,' in body
    assert b'"max":1.7976931348623157e+308,' in body


def test_body_limit_is_one_mebibyte(client: httpx.Client, unique_name: str) -> None:
    prefix = f'{{"name":"{unique_name}","value":1,"labels":{{"x":"'.encode()
    suffix = b'"}}'
    exact = prefix + b"y" * (1048576 - len(prefix) - len(suffix)) + suffix
    assert len(exact) == 1048576
    assert_json(client.post("/v1/metrics", content=exact), 202, b'{"accepted":1}\n')
    over = prefix + b"y" * (1048577 - len(prefix) - len(suffix)) + suffix
    too_large = b'{"error":"request body exceeds 1048576 bytes"}\n'
    assert_json(client.post("/v1/metrics", content=over), 413, too_large)


def test_chunked_body_is_refused(client: httpx.Client) -> None:
    response = client.post("/v1/metrics", content=iter([b'{"name":"a",', b'"value":1}']))
    message = b'{"error":"chunked request bodies are not supported; send Content-Length"}\n'
    assert_json(response, 411, message)


@pytest.mark.parametrize(
    "path",
    ["/", "/nope", "/healthz/", "/v1/metrics/", "/v1/metrics/a/b", "/v1", "/metrics/x"],
)
def test_unknown_routes_are_json_404(client: httpx.Client, path: str) -> None:
    assert_json(client.get(path), 404, b'{"error":"not found"}\n')


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/healthz", "GET, HEAD"),
        ("DELETE", "/version", "GET, HEAD"),
        ("GET", "/v1/metrics", "POST"),
        ("PUT", "/v1/metrics", "POST"),
        ("POST", "/v1/metrics/some_name", "GET, HEAD"),
        ("PATCH", "/metrics", "GET, HEAD"),
        ("OPTIONS", "/healthz", "GET, HEAD"),
    ],
)
def test_wrong_methods_are_json_405_with_allow(
    client: httpx.Client, method: str, path: str, allow: str
) -> None:
    response = client.request(method, path)
    assert_json(response, 405, b'{"error":"method not allowed"}\n')
    assert response.headers["allow"] == allow


def test_head_answers_like_get_without_a_body(client: httpx.Client) -> None:
    response = client.head("/healthz")
    assert response.status_code == 200
    assert response.headers["content-length"] == "16"
    assert response.content == b""


def test_metrics_exposition(client: httpx.Client, unique_name: str) -> None:
    post(
        client,
        [
            {"name": unique_name, "value": 1, "labels": {"b": "2", "a": 'say "hi"\\\nbye'}},
            {"name": unique_name, "value": 0.1},
            {"name": unique_name, "value": 1e6},
        ],
    )
    before = client.get("/metrics")
    assert before.status_code == 200
    assert before.headers["content-type"] == EXPOSITION
    lines = before.text.splitlines()
    start = lines.index(f"# TYPE {unique_name} gauge")
    assert lines[start + 1 : start + 3] == [
        f"{unique_name} 1e+06",
        f'{unique_name}{{a="say \\"hi\\"\\\\\\nbye",b="2"}} 1',
    ]
    assert before.text.endswith("\n")

    counter = 'metrics_api_http_requests_total{route="/v1/metrics/{name}",status="404"}'
    client.get(f"/v1/metrics/{unique_name}_missing")
    after = client.get("/metrics").text
    assert counter_value(after, counter) == counter_value(before.text, counter) + 1


def counter_value(exposition: str, series: str) -> int:
    for line in exposition.splitlines():
        if line.startswith(series + " "):
            return int(line.rsplit(" ", 1)[1])
    return 0


def test_request_counter_is_described(client: httpx.Client) -> None:
    client.get("/healthz")
    text = client.get("/metrics").text
    assert (
        "# HELP metrics_api_http_requests_total "
        "HTTP requests handled, by route template and status code.\n"
        "# TYPE metrics_api_http_requests_total counter\n"
    ) in text
    assert counter_value(text, 'metrics_api_http_requests_total{route="/healthz",status="200"}') > 0
