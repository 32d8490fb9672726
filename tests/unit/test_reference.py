import pytest

from metrics_api.oci.errors import InvalidInputError
from metrics_api.oci.spec.reference import Reference, is_loopback, parse_reference

pytestmark = pytest.mark.unit

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ubuntu", Reference("docker.io", "library/ubuntu")),
        ("ubuntu:24.04", Reference("docker.io", "library/ubuntu", tag="24.04")),
        ("iximiuz/metrics-api:v2.0.0", Reference("docker.io", "iximiuz/metrics-api", "v2.0.0")),
        (
            "registry.iximiuz.com/metrics-api:v2.0.0-arm64",
            Reference("registry.iximiuz.com", "metrics-api", "v2.0.0-arm64"),
        ),
        ("localhost/a/b", Reference("localhost", "a/b")),
        ("127.0.0.1:5000/metrics-api:v1", Reference("127.0.0.1:5000", "metrics-api", "v1")),
        (f"127.0.0.1:5000/m@{DIGEST}", Reference("127.0.0.1:5000", "m", digest=DIGEST)),
        (f"r.io/m:v1@{DIGEST}", Reference("r.io", "m", tag="v1", digest=DIGEST)),
        ("[::1]:5000/m:t", Reference("[::1]:5000", "m", tag="t")),
        ("r.io/a.b/c__d/e-f:T_1.x", Reference("r.io", "a.b/c__d/e-f", tag="T_1.x")),
    ],
)
def test_parses_valid_references(text: str, expected: Reference) -> None:
    assert parse_reference(text) == expected


def test_round_trips_to_text() -> None:
    text = f"127.0.0.1:5000/team/metrics-api:v2.0.0@{DIGEST}"
    assert str(parse_reference(text)) == text


def test_docker_hub_requests_go_to_the_registry_host() -> None:
    assert parse_reference("busybox").host == "registry-1.docker.io"
    assert parse_reference("r.io:443/x").host == "r.io:443"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("Metrics-API:v1", "not a valid repository path component"),
        ("r.io/m:", "is not a valid tag"),
        ("r.io/m:-bad", "is not a valid tag"),
        ("r.io/m@sha256:abc", "expected a digest like"),
        ("r.io/m@md5:" + "a" * 32, "expected a digest like"),
        ("http://r.io/m:v1", "no URL scheme"),
        ("r.io/a//b", "not a valid repository path component"),
        ("bad_host.io:x/m", "not a valid registry"),
    ],
)
def test_rejects_invalid_references_showing_the_expected_form(text: str, why: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_reference(text)
    message = str(caught.value)
    assert "<registry>/<namespace>/<repository>:<tag|@digest>" in message
    assert repr(text) in message
    assert why in message


def test_with_digest_validates_and_drops_the_tag() -> None:
    ref = parse_reference("r.io/m:v1").with_digest(DIGEST)
    assert (ref.tag, ref.digest) == ("", DIGEST)
    with pytest.raises(InvalidInputError):
        ref.with_digest("sha256:short")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("localhost:5000", True),
        ("127.0.0.1:5000", True),
        ("127.8.9.10", True),
        ("[::1]:5000", True),
        ("registry.iximiuz.com", False),
        ("10.0.0.1:5000", False),
        ("localhost.example.com", False),
    ],
)
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
