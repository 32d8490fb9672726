import pytest

from metrics_api.main import PipelineError, _build_args, _check_format

pytestmark = pytest.mark.dagger


def test_build_args_stamp_version_without_v_and_revision() -> None:
    args = _build_args("v2.0.0", "abc123", ["SOURCE=https://example.com/metrics-api"])
    assert [(arg.name, arg.value) for arg in args] == [
        ("VERSION", "2.0.0"),
        ("REVISION", "abc123"),
        ("SOURCE", "https://example.com/metrics-api"),
    ]


def test_extra_build_args_may_override_the_stamped_ones() -> None:
    args = _build_args("v2.0.0", "unknown", ["VERSION=2.0.0-rc1"])
    assert ("VERSION", "2.0.0-rc1") in [(arg.name, arg.value) for arg in args]


@pytest.mark.parametrize("text", ["VERSION", "=2.0.0"])
def test_malformed_build_args_are_refused(text: str) -> None:
    with pytest.raises(PipelineError, match="KEY=VALUE"):
        _build_args("v2.0.0", "unknown", [text])


def test_unknown_format_is_refused_before_any_work() -> None:
    _check_format("text")
    _check_format("json")
    with pytest.raises(PipelineError, match="expected --format text or json, found 'yaml'"):
        _check_format("yaml")
