import pytest

from metrics_api.oci.errors import InvalidInputError
from metrics_api.oci.release.job import (
    DEFAULT_VARIANTS,
    VariantPlan,
    parse_variant_table,
    variant_tag,
)
from metrics_api.oci.spec.platform import parse_platform

pytestmark = pytest.mark.unit


def test_default_table_builds_go_for_amd64_and_python_for_arm64() -> None:
    assert parse_variant_table(DEFAULT_VARIANTS, "--variants") == [
        VariantPlan(parse_platform("linux/amd64"), "app-amd64", "Dockerfile"),
        VariantPlan(parse_platform("linux/arm64"), "app-arm64", "Dockerfile"),
    ]


def test_a_third_platform_is_one_more_row() -> None:
    rows = [*DEFAULT_VARIANTS, "linux/arm/v7=app-arm64:Dockerfile.armv7"]
    plans = parse_variant_table(rows, "--variants")
    assert plans[2] == VariantPlan(parse_platform("linux/arm/v7"), "app-arm64", "Dockerfile.armv7")


@pytest.mark.parametrize(
    ("row", "found"),
    [
        ("linux/amd64", "found no '='"),
        ("=app-amd64", "found no platform before '='"),
        ("linux/amd64=", "found no folder after '='"),
        ("linux/amd64=:Dockerfile", "found no folder after '='"),
        ("amd64=app", "expected a platform of the form"),
    ],
)
def test_a_malformed_row_is_named_with_its_option(row: str, found: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        parse_variant_table([row], "--variants")
    assert str(raised.value).startswith(f"--variants {row!r}: expected ")
    assert found in str(raised.value)


def test_rejects_an_empty_table() -> None:
    with pytest.raises(InvalidInputError, match="expected at least one --variants row"):
        parse_variant_table([], "--variants")


@pytest.mark.parametrize(
    ("platform", "tag"),
    [
        ("linux/amd64", "v2.0.0-amd64"),
        ("linux/arm64", "v2.0.0-arm64"),
        ("linux/arm/v7", "v2.0.0-arm-v7"),
    ],
)
def test_variant_tags(platform: str, tag: str) -> None:
    assert variant_tag("v2.0.0", parse_platform(platform)) == tag
