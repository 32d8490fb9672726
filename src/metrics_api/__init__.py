"""metrics-api: build each platform variant from its own codebase, publish one verified image.

linux/amd64 ships the Go service and linux/arm64 the legacy Python one; `release` pushes
each under its own tag and publishes ONE multi-platform OCI index that references them by
digest, verified against the digests recorded at push time before the tag moves.
"""

from typing import Any


def __getattr__(name: str) -> Any:  # noqa: ANN401 - module attribute hook
    """Load the Dagger object on first use, so the engine-free core never imports dagger."""
    if name == "MetricsApi":
        from metrics_api.main import MetricsApi  # noqa: PLC0415 - deliberate lazy import

        return MetricsApi
    raise AttributeError(name)


__all__ = ["MetricsApi"]
