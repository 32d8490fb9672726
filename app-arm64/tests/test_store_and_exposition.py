"""The store aggregates and the Prometheus text exposition."""

import math

import pytest
from metrics_api_legacy.errors import ClientError
from metrics_api_legacy.exposition import render_exposition, render_labels
from metrics_api_legacy.ingest import Sample
from metrics_api_legacy.store import MSG_NO_MATCH, MSG_UNKNOWN_METRIC, Store


def test_stats_aggregate_matching_series() -> None:
    store = Store()
    store.add(
        [
            Sample("temp", 3.0, {"room": "a"}),
            Sample("temp", -1.0, {"room": "b"}),
            Sample("temp", 10.0, {"room": "a"}),
            Sample("other", 7.0, {}),
        ]
    )
    assert store.stats("temp", {}) == {
        "name": "temp",
        "count": 3,
        "sum": 12.0,
        "min": -1.0,
        "max": 10.0,
        "last": 10.0,
    }
    assert store.stats("temp", {"room": "b"}) == {
        "name": "temp",
        "count": 1,
        "sum": -1.0,
        "min": -1.0,
        "max": -1.0,
        "last": -1.0,
    }


def test_stats_not_found() -> None:
    store = Store()
    store.add([Sample("temp", 1.0, {"room": "a"})])
    with pytest.raises(ClientError) as unknown:
        store.stats("missing", {})
    assert (unknown.value.status, unknown.value.message) == (404, MSG_UNKNOWN_METRIC)
    with pytest.raises(ClientError) as no_match:
        store.stats("temp", {"room": "z"})
    assert (no_match.value.status, no_match.value.message) == (404, MSG_NO_MATCH)


def test_sums_are_plain_additions_in_arrival_order() -> None:
    store = Store()
    store.add([Sample("s", 0.1, {}), Sample("s", 0.2, {}), Sample("s", 0.3, {})])
    # Plain left-to-right addition, as Go does; Python 3.12's sum() would give 0.6.
    assert store.stats("s", {})["sum"] == 0.6000000000000001


def test_sum_overflow_is_infinite() -> None:
    store = Store()
    store.add([Sample("big", 1.7976931348623157e308, {})] * 2)
    assert store.stats("big", {})["sum"] == math.inf


def test_gauges_keep_the_last_value_per_series() -> None:
    store = Store()
    store.add([Sample("g", 1.0, {}), Sample("g", 2.0, {}), Sample("g", 5.0, {"k": "v"})])
    assert sorted(store.gauges()) == [("g", "", 2.0), ("g", '{k="v"}', 5.0)]


def test_render_labels_sorts_and_escapes() -> None:
    assert render_labels({}) == ""
    assert (
        render_labels({"b": "x\\y", "a": 'say "hi"\nbye'}) == '{a="say \\"hi\\"\\nbye",b="x\\\\y"}'
    )


def test_render_exposition_sorts_families_and_lines() -> None:
    gauges = [("zeta", '{a="2"}', 2.0), ("alpha", "", 1e21), ("zeta", '{a="1"}', 0.5)]
    requests = [("/v1/metrics", 202, 3), ("/healthz", 200, 1000000)]
    assert render_exposition(gauges, requests) == (
        "# TYPE alpha gauge\n"
        "alpha 1e+21\n"
        "# HELP metrics_api_http_requests_total"
        " HTTP requests handled, by route template and status code.\n"
        "# TYPE metrics_api_http_requests_total counter\n"
        'metrics_api_http_requests_total{route="/healthz",status="200"} 1000000\n'
        'metrics_api_http_requests_total{route="/v1/metrics",status="202"} 3\n'
        "# TYPE zeta gauge\n"
        'zeta{a="1"} 0.5\n'
        'zeta{a="2"} 2\n'
    )
    assert render_exposition([], []) == ""
