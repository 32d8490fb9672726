"""The core's jobs replaced by recorders: what a Dagger function hands the core, no engine."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import pytest

from metrics_api import release_functions, variant_functions
from metrics_api.oci.release import job as release_job
from metrics_api.oci.release.job import Staging


class Captured:
    """What a Dagger function handed the core's job."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def job(self, result: object) -> Any:  # noqa: ANN401 - stands in for any job
        async def run(*args: object, **kwargs: object) -> object:
            self.calls.append({"args": args, **kwargs})
            return result

        return run


@asynccontextmanager
async def no_embedded_registry() -> AsyncIterator[SimpleNamespace]:
    """The pipeline's registry as the functions use it, without a service behind it."""
    yield SimpleNamespace(
        service=None,
        host="staging.internal:5000",
        staging=Staging(push_host="localhost:5000", host="staging.internal:5000"),
    )


def capture_building_jobs(monkeypatch: pytest.MonkeyPatch) -> Captured:
    """Record what ``release``, ``release-layout`` and ``publish-variant`` hand the core."""
    captured = Captured()
    report = SimpleNamespace(summary=lambda: "ok", target="staging.internal:5000/m:v2.0.0")
    published = SimpleNamespace(outcome=lambda: "created", reference="r/m:v2.0.0-arm64@x")
    monkeypatch.setattr(release_job, "release", captured.job(report))
    monkeypatch.setattr(release_job, "publish_variant", captured.job(published))
    for functions in (release_functions, variant_functions):
        monkeypatch.setattr(functions, "embedded_registry", no_embedded_registry)
    monkeypatch.setattr(release_functions, "write_layout", captured.job(None))
    layout = SimpleNamespace(workdir=lambda path: path)
    monkeypatch.setattr(release_functions, "dag", SimpleNamespace(current_module=lambda: layout))
    return captured
