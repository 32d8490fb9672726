"""Errors through the SDK's own call path: expected ones as one message, bugs with a traceback."""

import logging

import anyio
import pytest
from dagger.mod._exceptions import FunctionError

from metrics_api.main import MetricsApi, PipelineError

pytestmark = pytest.mark.dagger


def _call_and_capture(
    caplog: pytest.LogCaptureFixture, function: object, **kwargs: object
) -> tuple[FunctionError, list[logging.LogRecord]]:
    """Call ``function`` as the SDK's ``Module.call`` does; the error and what it logged."""
    module = MetricsApi.__dagger_module__  # type: ignore[attr-defined]
    caplog.clear()
    with (
        caplog.at_level(logging.DEBUG, logger="dagger.mod"),
        pytest.raises(FunctionError) as raised,
    ):
        anyio.run(lambda: module.call(function, **kwargs))
    return raised.value, [r for r in caplog.records if r.name.startswith("dagger.mod")]


def test_an_expected_error_reaches_the_user_as_one_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    error, logged = _call_and_capture(
        caplog, MetricsApi().verify, target="r.example/a:v1", expect=[]
    )
    assert isinstance(error, PipelineError)
    assert str(error) == (
        "expected at least one PLATFORM=DIGEST expectation, found none; "
        "pass --expect PLATFORM=DIGEST for each platform"
    )
    assert logged == [], "the SDK logged a traceback for an expected error"


def test_a_bad_format_is_refused_without_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    error, logged = _call_and_capture(
        caplog, MetricsApi().verify, target="r.example/a:v1", expect=[], format_="yaml"
    )
    assert str(error) == "expected --format text or json, found 'yaml'"
    assert logged == []


def test_a_bug_keeps_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> None:
        raise ZeroDivisionError

    error, logged = _call_and_capture(caplog, broken)
    assert not isinstance(error, PipelineError)
    assert [record.getMessage() for record in logged] == [
        "Unhandled exception while executing function"
    ]
    assert logged[0].exc_info is not None


@pytest.mark.parametrize("function", ["assemble", "release"])
def test_an_unknown_attestation_mode_is_refused_before_any_work(
    function: str, caplog: pytest.LogCaptureFixture
) -> None:
    arguments: dict[str, object] = (
        {"target": "r.example/a:v1", "variants": ["linux/amd64=r.example/a:x"]}
        if function == "assemble"
        else {"source": None}
    )
    error, logged = _call_and_capture(
        caplog, getattr(MetricsApi(), function), attestations="maybe", **arguments
    )
    assert isinstance(error, PipelineError)
    assert str(error) == "expected --attestations keep or drop, found 'maybe'"
    assert logged == []
