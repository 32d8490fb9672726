"""The Prometheus name rules used for metric names, label names and filters."""

from __future__ import annotations

import re

METRIC_NAME_RULE = "[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL_NAME_RULE = "[a-zA-Z_][a-zA-Z0-9_]*"
RESERVED_LABEL_PREFIX = "__"
RESERVED_METRIC_PREFIX = "metrics_api_"

_METRIC_NAME = re.compile(METRIC_NAME_RULE)
_LABEL_NAME = re.compile(LABEL_NAME_RULE)


def is_metric_name(name: str) -> bool:
    """Whether name matches the metric-name rule (ASCII only, as in Go)."""
    return _METRIC_NAME.fullmatch(name) is not None


def is_label_name(name: str) -> bool:
    """Whether name matches the label-name rule; the __ prefix is checked separately."""
    return _LABEL_NAME.fullmatch(name) is not None
