"""Routing and handlers, without sockets."""

from http import HTTPStatus

import pytest
from metrics_api_legacy.config import Config
from metrics_api_legacy.errors import ClientError
from metrics_api_legacy.ingest import MSG_CHUNKED
from metrics_api_legacy.routing import Request, Response, Service, is_canonical_path

IDENTITY_BODY = (
    b'{"service":"metrics-api","version":"9.9.9","revision":"abc",'
    b'"implementation":"python","os":"linux","arch":"'
)


def call(service: Service, method: str, target: bytes, body: bytes = b"") -> tuple[str, Response]:
    path, _, query = target.partition(b"?")
    return service.handle(Request(method=method, path=path, query=query, read_body=lambda: body))


@pytest.fixture
def service() -> Service:
    return Service(Config(port=8080, version="9.9.9", revision="abc"))


def test_healthz_and_version(service: Service) -> None:
    route, response = call(service, "GET", b"/healthz")
    assert (route, response.status, response.body) == ("/healthz", 200, b'{"status":"ok"}\n')
    assert response.content_type == "application/json"
    _, version = call(service, "GET", b"/version")
    assert version.body.startswith(IDENTITY_BODY)


def test_ingest_then_stats(service: Service) -> None:
    body = b'[{"name":"temp","value":0.5,"labels":{"room":"b"}},{"name":"temp","value":1e21}]'
    route, accepted = call(service, "POST", b"/v1/metrics", body)
    assert (route, accepted.status, accepted.body) == ("/v1/metrics", 202, b'{"accepted":2}\n')
    route, stats = call(service, "GET", b"/v1/metrics/temp")
    assert route == "/v1/metrics/{name}"
    assert (
        stats.body == b'{"name":"temp","count":2,"sum":1e+21,"min":0.5,"max":1e+21,"last":1e+21}\n'
    )
    _, filtered = call(service, "GET", b"/v1/metrics/temp?room=b")
    assert filtered.body == b'{"name":"temp","count":1,"sum":0.5,"min":0.5,"max":0.5,"last":0.5}\n'
    _, missing = call(service, "GET", b"/v1/metrics/te%6Dp?room=z")
    assert (missing.status, missing.body) == (
        404,
        b'{"error":"no series of this metric match the label filter"}\n',
    )


def test_body_reading_errors_become_json(service: Service) -> None:
    def refuse() -> bytes:
        raise ClientError(HTTPStatus.LENGTH_REQUIRED, MSG_CHUNKED)

    route, response = service.handle(Request("POST", b"/v1/metrics", b"", refuse))
    assert (route, response.status) == ("/v1/metrics", 411)
    assert (
        response.body
        == b'{"error":"chunked request bodies are not supported; send Content-Length"}\n'
    )


@pytest.mark.parametrize(
    "target",
    [
        b"/",
        b"/nope",
        b"/healthz/",
        b"/v1/metrics/",
        b"/v1/metrics/a/b",
        b"//healthz",
        b"/v1/./metrics",
        b"/a/..",
    ],
)
def test_unknown_paths_are_404(service: Service, target: bytes) -> None:
    route, response = call(service, "GET", target)
    assert (route, response.status, response.body) == ("unmatched", 404, b'{"error":"not found"}\n')


@pytest.mark.parametrize(
    ("method", "target", "allow"),
    [
        ("POST", b"/healthz", "GET, HEAD"),
        ("DELETE", b"/version", "GET, HEAD"),
        ("GET", b"/v1/metrics", "POST"),
        ("HEAD", b"/v1/metrics", "POST"),
        ("PUT", b"/v1/metrics/x", "GET, HEAD"),
        ("get", b"/metrics", "GET, HEAD"),
    ],
)
def test_wrong_methods_are_405_with_allow(
    service: Service, method: str, target: bytes, allow: str
) -> None:
    _, response = call(service, method, target)
    assert (response.status, response.allow) == (405, allow)
    assert response.body == b'{"error":"method not allowed"}\n'


def test_segments_are_matched_after_percent_decoding(service: Service) -> None:
    route, response = call(service, "HEAD", b"/%68ealthz")
    assert (route, response.status) == ("/healthz", 200)


@pytest.mark.parametrize(
    ("path", "canonical"),
    [
        (b"/", True),
        (b"/a/", True),
        (b"/..a", True),
        (b"/a//", False),
        (b"//a", False),
        (b"/.", False),
        (b"/a/..", False),
        (b"a", False),
        (b"", False),
    ],
)
def test_is_canonical_path(path: bytes, canonical: bool) -> None:
    assert is_canonical_path(path) is canonical
