from typing import TYPE_CHECKING, cast

import pytest

from metrics_api.arguments import check_format
from metrics_api.builds import VariantBuilds, build_arguments
from metrics_api.pipeline_errors import PipelineError

if TYPE_CHECKING:
    import dagger

pytestmark = pytest.mark.dagger


def test_build_args_stamp_version_without_v_and_revision() -> None:
    args = build_arguments("v2.0.0", "abc123", ["SOURCE=https://example.com/metrics-api"])
    assert [(arg.name, arg.value) for arg in args] == [
        ("VERSION", "2.0.0"),
        ("REVISION", "abc123"),
        ("SOURCE", "https://example.com/metrics-api"),
    ]


def test_extra_build_args_may_override_the_stamped_ones() -> None:
    args = build_arguments("v2.0.0", "unknown", ["VERSION=2.0.0-rc1"])
    assert ("VERSION", "2.0.0-rc1") in [(arg.name, arg.value) for arg in args]


@pytest.mark.parametrize("text", ["VERSION", "=2.0.0"])
def test_malformed_build_args_are_refused(text: str) -> None:
    with pytest.raises(PipelineError, match="KEY=VALUE"):
        build_arguments("v2.0.0", "unknown", [text])


def test_unknown_format_is_refused_before_any_work() -> None:
    check_format("text")
    check_format("json")
    with pytest.raises(PipelineError, match="expected --format text or json, found 'yaml'"):
        check_format("yaml")


def test_a_source_url_with_credentials_is_refused_before_any_build() -> None:
    """It would be stamped into an image label and the provenance, readable by anyone."""
    with pytest.raises(PipelineError) as refused:
        VariantBuilds.stamped(
            cast("dagger.Directory", None), "v2.0.0", "r", [], "https://ci:s3cret@git.example.com/x"
        )
    assert "s3cret" not in str(refused.value)
    assert str(refused.value) == (
        "expected --source-url to be a public address (it is stamped into the images and "
        "their provenance for anyone to read), found a user, password, query or fragment in "
        "it; give it as https://git.example.com/x"
    )
    plain = VariantBuilds.stamped(
        cast("dagger.Directory", None), "v2.0.0", "r", [], "https://git.example.com/x"
    )
    assert plain.build_args == ["SOURCE=https://git.example.com/x"]


@pytest.mark.parametrize(
    ("build_args", "source_url", "where"),
    [
        (["SOURCE=https://ci:s3cret@git.example.com/x"], "", "--build-args SOURCE"),
        (
            ["SOURCE=https://ci:s3cret@git.example.com/x"],
            "https://git.example.com/x",
            "--build-args SOURCE",
        ),
        ([], "https://ci:s3/cret@git.example.com/x", "--source-url"),  # a parser sees a path
        ([], "https://ci:s3?cret@git.example.com/x", "--source-url"),
        ([], "ci:s3cret@git.example.com/x", "--source-url"),  # no scheme
        ([], "https://git.example.com/x?private_token=s3cret", "--source-url"),
        ([], "https://git.example.com/x#s3cret", "--source-url"),
    ],
)
def test_every_way_a_secret_could_reach_the_source_label_is_refused(
    build_args: list[str], source_url: str, where: str
) -> None:
    with pytest.raises(PipelineError) as refused:
        VariantBuilds.stamped(cast("dagger.Directory", None), "v2.0.0", "r", build_args, source_url)
    assert "s3" not in str(refused.value)
    assert str(refused.value).startswith(f"expected {where} to be a public address")
