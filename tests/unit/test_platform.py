import pytest

from metrics_api.oci.errors import InvalidInputError
from metrics_api.oci.spec.platform import Platform, parse_platform

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("wanted", "candidate", "match"),
    [
        ("linux/arm64", "linux/arm64/v8", True),
        ("linux/arm64/v8", "linux/arm64", True),
        ("linux/aarch64", "linux/arm64", True),
        ("linux/x86_64", "linux/amd64", True),
        ("linux/arm", "linux/arm/v7", True),
        ("linux/arm/v6", "linux/arm/v7", False),
        ("linux/amd64", "linux/arm64", False),
        ("linux/amd64", "windows/amd64", False),
    ],
)
def test_matches_the_way_containerd_normalizes(wanted: str, candidate: str, match: bool) -> None:
    assert parse_platform(wanted).matches(parse_platform(candidate)) is match


def test_spec_json_keeps_optional_fields_in_order() -> None:
    platform = Platform.model_validate(
        {"architecture": "amd64", "os": "windows", "os.version": "10.0.20348.1", "variant": "v2"}
    )
    assert platform.to_json() == {
        "architecture": "amd64",
        "os": "windows",
        "os.version": "10.0.20348.1",
        "variant": "v2",
    }
    assert str(platform) == "windows/amd64/v2"


def test_attestation_platform() -> None:
    assert Platform(architecture="unknown", os="unknown").is_attestation
    assert not parse_platform("linux/arm64").is_attestation


@pytest.mark.parametrize("text", ["linux", "linux/", "/amd64", "linux/arm/v7/extra", ""])
def test_rejects_malformed_platforms(text: str) -> None:
    with pytest.raises(InvalidInputError, match="os/architecture"):
        parse_platform(text)


@pytest.mark.parametrize("text", ["linux/arm64/v8", "linux/amd64"])
def test_a_parsed_platform_is_the_one_validation_makes(text: str) -> None:
    # Parsing constructs it (nothing to validate: its parts are strings already).
    os_name, architecture, *variant = text.split("/")
    validated = Platform(os=os_name, architecture=architecture, variant=next(iter(variant), None))
    parsed = parse_platform(text)
    assert parsed == validated
    assert hash(parsed) == hash(validated)
    assert parsed.model_dump(by_alias=True) == validated.model_dump(by_alias=True)
    assert parsed.model_fields_set == validated.model_fields_set
