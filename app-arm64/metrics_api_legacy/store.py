"""The in-memory metric store shared by all requests.

Samples are aggregated per series (name and label set), so memory grows with
the number of series, not of samples.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING

from metrics_api_legacy.errors import ClientError
from metrics_api_legacy.exposition import render_labels
from metrics_api_legacy.query import matches

if TYPE_CHECKING:
    from metrics_api_legacy.ingest import Sample

MSG_UNKNOWN_METRIC = "metric not found"
MSG_NO_MATCH = "no series of this metric match the label filter"


@dataclass
class Series:
    """The aggregate of one series; sums are plain float additions in arrival order."""

    labels: dict[str, str]
    label_text: str
    count: int = 0
    total: float = 0.0
    minimum: float = 0.0
    maximum: float = 0.0
    last: float = 0.0
    last_sequence: int = 0

    def observe(self, value: float, sequence: int) -> None:
        """Add one sample (a loop, not sum(): Python 3.12's sum() compensates)."""
        if self.count == 0 or value < self.minimum:
            self.minimum = value
        if self.count == 0 or value > self.maximum:
            self.maximum = value
        self.count += 1
        self.total += value
        self.last = value
        self.last_sequence = sequence


@dataclass
class Family:
    """The series of one metric name, in order of first appearance."""

    series: list[Series] = field(default_factory=list)
    by_labels: dict[str, Series] = field(default_factory=dict)


class Store:
    """Metric samples by name; one lock guards everything."""

    def __init__(self) -> None:
        """Start empty."""
        self._lock = threading.Lock()
        self._families: dict[str, Family] = {}
        self._sequence = 0

    def add(self, samples: list[Sample]) -> None:
        """Record validated samples in order, all under one lock."""
        with self._lock:
            for sample in samples:
                self._sequence += 1
                self._series_for(sample).observe(sample.value, self._sequence)

    def _series_for(self, sample: Sample) -> Series:
        family = self._families.setdefault(sample.name, Family())
        text = render_labels(sample.labels)
        series = family.by_labels.get(text)
        if series is None:
            series = Series(labels=sample.labels, label_text=text)
            family.by_labels[text] = series
            family.series.append(series)
        return series

    def stats(self, name: str, label_filter: dict[str, str]) -> dict[str, object]:
        """Combine the matching series of a name, in the Go implementation's order.

        Series sums are added in order of first appearance; "last" is the value
        of the most recent sample. Raises a 404 ClientError when nothing matches.
        """
        with self._lock:
            family = self._families.get(name)
            if family is None:
                raise ClientError(HTTPStatus.NOT_FOUND, MSG_UNKNOWN_METRIC)
            selected = [s for s in family.series if matches(label_filter, s.labels)]
            if not selected:
                raise ClientError(HTTPStatus.NOT_FOUND, MSG_NO_MATCH)
            total = 0.0
            for series in selected:
                total += series.total
            latest = max(selected, key=lambda series: series.last_sequence)
            return {
                "name": name,
                "count": sum(series.count for series in selected),
                "sum": total,
                "min": min(series.minimum for series in selected),
                "max": max(series.maximum for series in selected),
                "last": latest.last,
            }

    def gauges(self) -> list[tuple[str, str, float]]:
        """Return (name, label text, last value) of every series, for the exposition."""
        with self._lock:
            return [
                (name, series.label_text, series.last)
                for name, family in self._families.items()
                for series in family.series
            ]
