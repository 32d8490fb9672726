"""Routes and handlers: a request in, a route label and a response out.

This module knows nothing about sockets, so it is tested without a server.
Routing follows Go's ServeMux as the Go implementation uses it: path segments
are percent-decoded before matching, a GET route also serves HEAD, other
methods get a 405 with an Allow header, and anything else (including paths
with empty, "." or ".." segments) gets a 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import unquote_to_bytes

from metrics_api_legacy.config import identity
from metrics_api_legacy.errors import ClientError
from metrics_api_legacy.exposition import CONTENT_TYPE as EXPOSITION_CONTENT_TYPE
from metrics_api_legacy.exposition import render_exposition
from metrics_api_legacy.ingest import parse_samples
from metrics_api_legacy.instrumentation import RequestCounter
from metrics_api_legacy.jsonbody import encode_json
from metrics_api_legacy.query import parse_label_filter
from metrics_api_legacy.store import Store

if TYPE_CHECKING:
    from collections.abc import Callable

    from metrics_api_legacy.config import Config

JSON_CONTENT_TYPE = "application/json"
ROUTE_UNMATCHED = "unmatched"


@dataclass(frozen=True)
class Request:
    """What a handler may use of a request; read_body raises ClientError."""

    method: str
    path: bytes
    query: bytes
    read_body: Callable[[], bytes]


@dataclass(frozen=True)
class Response:
    """A complete response; the HTTP layer writes it in one go."""

    status: int
    body: bytes
    content_type: str = JSON_CONTENT_TYPE
    allow: str | None = None


def json_response(status: int, document: object) -> Response:
    """Return a JSON response in the contract's encoding."""
    return Response(status=status, body=encode_json(document))


def error_response(status: int, message: str, allow: str | None = None) -> Response:
    """Return the contract's JSON error body."""
    return Response(status=status, body=encode_json({"error": message}), allow=allow)


@dataclass(frozen=True)
class Route:
    """One route template and the one method it serves."""

    template: str
    method: str
    handler: Callable[[Request, dict[str, str]], Response]

    @property
    def allow(self) -> str:
        """The Allow header of a 405 on this route."""
        return "GET, HEAD" if self.method == "GET" else self.method

    def match(self, segments: list[str]) -> dict[str, str] | None:
        """Return the {wildcard} values if the decoded path segments fit the template."""
        template = self.template[1:].split("/")
        if len(template) != len(segments):
            return None
        values: dict[str, str] = {}
        for pattern, segment in zip(template, segments, strict=True):
            if pattern.startswith("{"):
                if not segment:
                    return None
                values[pattern[1:-1]] = segment
            elif pattern != segment:
                return None
        return values


def is_canonical_path(path: bytes) -> bool:
    """Whether a path is absolute with no empty, "." or ".." segment (a trailing slash is fine)."""
    if not path.startswith(b"/"):
        return False
    segments = path[1:].split(b"/")
    *inner, last = segments
    return all(s not in {b"", b".", b".."} for s in inner) and last not in {b".", b".."}


class Service:
    """The metrics-api endpoints and their shared state."""

    def __init__(self, config: Config) -> None:
        """Start with an empty store and no requests counted."""
        self.identity = identity(config)
        self.store = Store()
        self.requests = RequestCounter()
        self.routes = (
            Route("/healthz", "GET", self.healthz),
            Route("/version", "GET", self.version),
            Route("/v1/metrics", "POST", self.ingest),
            Route("/v1/metrics/{name}", "GET", self.metric_stats),
            Route("/metrics", "GET", self.exposition),
        )

    def handle(self, request: Request) -> tuple[str, Response]:
        """Route a request; returns the route label for the request counter and the response."""
        route, values = self._find_route(request.path)
        if route is None or values is None:
            return ROUTE_UNMATCHED, error_response(HTTPStatus.NOT_FOUND, "not found")
        method = "GET" if request.method == "HEAD" else request.method
        if method != route.method:
            return route.template, error_response(
                HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed", allow=route.allow
            )
        try:
            return route.template, route.handler(request, values)
        except ClientError as error:
            return route.template, error_response(error.status, error.message)

    def _find_route(self, path: bytes) -> tuple[Route | None, dict[str, str] | None]:
        if not is_canonical_path(path):
            return None, None
        segments = [
            unquote_to_bytes(segment).decode("utf-8", "surrogateescape")
            for segment in path[1:].split(b"/")
        ]
        for route in self.routes:
            values = route.match(segments)
            if values is not None:
                return route, values
        return None, None

    def healthz(self, _request: Request, _values: dict[str, str]) -> Response:
        """Liveness: the process answers."""
        return json_response(HTTPStatus.OK, {"status": "ok"})

    def version(self, _request: Request, _values: dict[str, str]) -> Response:
        """What is running, and on which architecture."""
        return json_response(HTTPStatus.OK, self.identity)

    def ingest(self, request: Request, _values: dict[str, str]) -> Response:
        """Store one sample or a list of samples, all or nothing."""
        samples = parse_samples(request.read_body())
        self.store.add(samples)
        return json_response(HTTPStatus.ACCEPTED, {"accepted": len(samples)})

    def metric_stats(self, request: Request, values: dict[str, str]) -> Response:
        """Aggregate one metric, optionally filtered by labels."""
        label_filter = parse_label_filter(request.query)
        return json_response(HTTPStatus.OK, self.store.stats(values["name"], label_filter))

    def exposition(self, _request: Request, _values: dict[str, str]) -> Response:
        """Prometheus text exposition of the stored series and the request counter."""
        text = render_exposition(self.store.gauges(), self.requests.snapshot())
        return Response(
            status=HTTPStatus.OK, body=text.encode("utf-8"), content_type=EXPOSITION_CONTENT_TYPE
        )
