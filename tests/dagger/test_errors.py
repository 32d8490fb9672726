"""Errors through the SDK's own call path: expected ones as one message, bugs with a traceback."""

import logging
from typing import cast

import anyio
import dagger
import pytest
from dagger._exceptions import QueryErrorValue
from dagger.mod import _exceptions as sdk_exceptions
from dagger.mod._exceptions import FunctionError
from gql import GraphQLRequest

from metrics_api import builds, embedded
from metrics_api.access import RegistryAccess
from metrics_api.main import MetricsApi
from metrics_api.pipeline_errors import PipelineError

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
        "expected at least one PLATFORM=DIGEST expectation, or a public key or a certificate "
        "identity to verify the index by, found none; pass --expect PLATFORM=DIGEST for each "
        "platform, or --public-key (or --certificate-identity with --certificate-oidc-issuer) "
        "to verify by the publisher's signature alone"
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


@pytest.mark.parametrize(
    ("function", "arguments", "message"),
    [
        (
            "assemble",
            {"target": "r.example/a:v1", "variants": ["linux/amd64"]},
            (
                "--variants 'linux/amd64': expected PLATFORM=REFERENCE (linux/arm64=REPO:TAG), "
                "found no '='"
            ),
        ),
        (
            "assemble",
            {"target": "r.example/a:v1", "variants": ["linux/amd64=r.example/a:x"]}
            | {"expect": ["linux/amd64=sha256:1"]},
            "--expect 'linux/amd64=sha256:1': expected a digest like",
        ),
        (
            "verify",
            {"target": "r.example/a:v1"}
            | {"expect": [f"linux/amd64=sha256:{'a' * 64}", f"linux/amd64=sha256:{'b' * 64}"]},
            "expected one ledger line per platform, found two for linux/amd64",
        ),
    ],
)
def test_a_bad_value_is_named_with_this_interfaces_flag(
    function: str, arguments: dict[str, object], message: str, caplog: pytest.LogCaptureFixture
) -> None:
    error, logged = _call_and_capture(caplog, getattr(MetricsApi(), function), **arguments)
    assert isinstance(error, PipelineError)
    assert message in str(error)
    assert logged == []


class _RecordedError:
    """What ``dag.error(...)`` builds: the message the user reads, and its values."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.values: dict[str, object] = {}

    def with_value(self, name: str, value: object) -> "_RecordedError":
        self.values[name] = value
        return self


class _FunctionCall:
    def __init__(self) -> None:
        self.returned: list[_RecordedError] = []

    async def return_error(self, error: _RecordedError) -> None:
        self.returned.append(error)


class _Dag:
    """The two calls of the engine's API that ``record_exception`` makes."""

    def __init__(self) -> None:
        self.call = _FunctionCall()

    def error(self, message: str) -> _RecordedError:
        return _RecordedError(message)

    def current_function_call(self) -> _FunctionCall:
        return self.call


def _recorded(monkeypatch: pytest.MonkeyPatch, error: Exception) -> str:
    """The message the SDK hands the engine for ``error`` (dagger/mod/_exceptions.py)."""
    engine = _Dag()
    monkeypatch.setattr(sdk_exceptions, "dag", engine)
    anyio.run(sdk_exceptions.record_exception, error)
    (returned,) = engine.call.returned
    return returned.message


def test_the_engine_gets_an_expected_error_as_its_message_alone(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    error, _ = _call_and_capture(caplog, MetricsApi().verify, target="r.example/a:v1", expect=[])
    assert _recorded(monkeypatch, error) == (
        "expected at least one PLATFORM=DIGEST expectation, or a public key or a certificate "
        "identity to verify the index by, found none; pass --expect PLATFORM=DIGEST for each "
        "platform, or --public-key (or --certificate-identity with --certificate-oidc-issuer) "
        "to verify by the publisher's signature alone"
    )


def test_the_engine_gets_a_bug_with_its_class_name(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: the SDK's step names the class of anything else, as it did ours."""

    def broken() -> None:
        msg = "boom"
        raise ZeroDivisionError(msg)

    error, _ = _call_and_capture(caplog, broken)
    assert _recorded(monkeypatch, error) == "FunctionError: boom"
    assert _recorded(monkeypatch, _OldPipelineError("refused")) == (
        "tests.dagger.test_errors._OldPipelineError: refused"
    )


class _OldPipelineError(FunctionError):
    """How expected errors were raised before: a plain ``FunctionError`` subclass."""


class _FailingBuild:
    """A container whose publish fails as the engine reports it (an API error value)."""

    def __init__(self, message: str, extensions: dict[str, object]) -> None:
        self.error = dagger.QueryError(
            [QueryErrorValue(message=message, extensions=extensions)], GraphQLRequest("{ x }")
        )

    async def publish(self, _address: str, **_options: object) -> str:
        raise self.error


def _build_failure(message: str, extensions: dict[str, object]) -> str:
    container = cast("dagger.Container", _FailingBuild(message, extensions))
    with pytest.raises(PipelineError) as raised:
        anyio.run(
            lambda: builds.publish_build(  # the step every build goes through
                container, "localhost:5000/staging/x:v1-arm64", cast("dagger.Service", None), "V"
            )
        )
    return str(raised.value)


def test_a_failing_run_step_names_the_variant_and_the_command() -> None:
    exec_error = {"_type": "EXEC_ERROR", "cmd": ["/bin/sh", "-c", "false"], "exitCode": 1}
    quiet = _build_failure("exit code: 1", {**exec_error, "stdout": "", "stderr": ""})
    assert quiet == (
        "building V failed: `/bin/sh -c false` exited 1; fix the Dockerfile or the source, "
        "then re-run"
    )
    loud = _build_failure("exit code: 1", {**exec_error, "stdout": "", "stderr": "no go.mod\n"})
    assert loud.startswith("building V failed: `/bin/sh -c false` exited 1: no go.mod; fix")
    assert "localhost:5000" not in quiet + loud


def test_a_base_image_refused_to_the_engine_says_where_to_log_in() -> None:
    refused = _build_failure(
        "failed to convert Dockerfile to LLB: r.example/mirror/golang:1.26: pull access denied, "
        "repository does not exist or may require authorization",
        {},
    )
    assert refused.endswith(builds.BASE_IMAGE_LOGIN)
    assert "run `docker login HOST` there" in refused

    missing = _build_failure('failed to read Dockerfile "Dockerfile.armv7": no such file', {})
    assert missing.endswith("; check the Dockerfile")


class _UnstartableService:
    """A registry image the engine cannot run, as the engine reports it."""

    def as_service(self) -> "_UnstartableService":
        return self

    async def start(self) -> dagger.Service:
        raise dagger.QueryError(
            [QueryErrorValue(message="pull access denied: toomanyrequests")],
            GraphQLRequest("{ x }"),
        )


def test_a_pipeline_registry_that_cannot_start_is_one_message() -> None:
    registry = cast("dagger.Container", _UnstartableService())
    with pytest.raises(PipelineError) as raised:
        anyio.run(embedded.start, registry)
    assert str(raised.value) == (
        "starting the pipeline's own registry (registry:3) failed: pull access denied: "
        "toomanyrequests; the engine must be able to pull registry:3 (from Docker Hub, or the "
        "mirror it is configured with)"
    )


class _UnreadableSecret:
    """``--password env:UNSET``, as the engine answers a read of it."""

    async def plaintext(self) -> str:
        raise dagger.QueryError(
            [QueryErrorValue(message='secret env var not found: "UNSET"')],
            GraphQLRequest("{ x }"),
        )


def test_a_secret_that_cannot_be_read_is_one_message_naming_its_flag() -> None:
    secret = cast("dagger.Secret", _UnreadableSecret())
    access = RegistryAccess([], "ci", secret, None, None, 600.0)
    with pytest.raises(PipelineError) as raised:
        anyio.run(access.settings, "r.example/metrics-api")
    assert str(raised.value).startswith(
        'reading --password failed: secret env var not found: "UNSET"; expected env:NAME'
    )
