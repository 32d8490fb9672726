"""The URLs requests go to: a repository path is appended, a Location is resolved."""

import httpx
import pytest

from metrics_api.oci.errors import RegistryError
from metrics_api.oci.registry.client import joined
from metrics_api.oci.spec.reference import parse_reference

pytestmark = pytest.mark.unit

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    "base",
    ["http://localhost:5000/v2/", "http://[::1]:5000/v2/", "https://registry.example.com/v2/"],
)
@pytest.mark.parametrize("repository", ["metrics-api", "team/metrics-api", "a.b/c__d/e-f/g_h"])
@pytest.mark.parametrize(
    "path",
    [
        "manifests/v2.0.0",
        "manifests/V2._-x",
        f"manifests/{DIGEST}",
        f"blobs/{DIGEST}",
        "blobs/uploads/",
    ],
)
def test_a_path_in_the_repository_is_where_resolving_it_would_lead(
    base: str, repository: str, path: str
) -> None:
    ref = parse_reference(f"registry.example.com/{repository}:v1")
    url = joined(base, ref, path)
    assert url == httpx.URL(base).join(f"{ref.repository}/{path}")
    assert str(url) == f"{base}{ref.repository}/{path}"


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        (
            "/v2/team/app/blobs/uploads/0f3c?_state=a%2Bb",
            "https://registry.example.com/v2/team/app/blobs/uploads/0f3c?_state=a%2Bb",
        ),
        (
            "https://storage.example.com/b/x?X-Signature=s",
            "https://storage.example.com/b/x?X-Signature=s",
        ),
        ("HTTP://storage.example.com:8080/b", "http://storage.example.com:8080/b"),
    ],
)
def test_a_location_is_resolved_against_the_registry(location: str, expected: str) -> None:
    ref = parse_reference("registry.example.com/team/app:v1")
    assert str(joined("https://registry.example.com/v2/", ref, location)) == expected


def test_a_location_of_another_scheme_is_refused() -> None:
    ref = parse_reference("registry.example.com/team/app:v1")
    with pytest.raises(RegistryError, match="found a URL of scheme ftp"):
        joined("https://registry.example.com/v2/", ref, "ftp://storage.example.com/b")
