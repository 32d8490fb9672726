"""Input refused before any request: ports out of range, unusable URLs, credentials' origin.

Each of these once escaped as a Python traceback (an OverflowError from ``connect()``, an
``httpx.InvalidURL``) or sent the registry's credentials where they do not belong.
"""

import json

import anyio
import httpx
import pytest

from metrics_api.oci.cli import main
from metrics_api.oci.errors import InvalidInputError, SigningError
from metrics_api.oci.registry.responses import describe, shown_url
from metrics_api.oci.registry.transport import RegistryTransport
from metrics_api.oci.signing.identity_tokens import GitHubActionsToken
from metrics_api.oci.spec.reference import parse_reference

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("port", ["0", "65536", "99999", "123456789012345678901234567890"])
def test_a_port_out_of_range_is_refused(port: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        parse_reference(f"127.0.0.1:{port}/app:v1")
    assert f"the port {port} is out of range (expected 1 to 65535)" in str(refused.value)


@pytest.mark.parametrize("registry", ["127.0.0.1:1", "localhost:65535", "[::1]:5000", "[::1]"])
def test_ports_in_range_and_bracketed_hosts_are_kept(registry: str) -> None:
    assert parse_reference(f"{registry}/app:v1").host == registry


def test_the_command_line_refuses_a_port_out_of_range_with_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["resolve", "127.0.0.1:99999/app:v1", "--platform", "linux/amd64", "--json"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.count("\n") == 1
    assert "the port 99999 is out of range" in captured.err
    assert json.loads(captured.out)["ok"] is False


@pytest.mark.parametrize(
    ("url", "is_registry"),
    [
        ("https://registry.example.com/v2/app/blobs/uploads/1", True),
        ("https://registry.example.com:443/v2/app/blobs/uploads/1", True),
        ("http://registry.example.com/v2/app/blobs/uploads/1", False),  # a downgrade
        ("https://registry.example.com:8443/upload/1", False),
        ("https://storage.example.com/upload/1?sig=x", False),
    ],
)
def test_credentials_go_to_the_registrys_own_scheme_host_and_port(
    url: str, *, is_registry: bool
) -> None:
    transport = RegistryTransport()
    ref = parse_reference("registry.example.com/app:v1")
    assert transport.is_registry(ref, httpx.URL(url)) is is_registry


def test_a_shown_url_has_no_userinfo_query_or_fragment() -> None:
    url = "https://user:PASSWORD@storage.example.com:8443/blob/x?X-Amz-Signature=SIG#frag"
    assert shown_url(url) == "https://storage.example.com:8443/blob/x"


def test_an_echoed_basic_password_is_hidden_in_every_form() -> None:
    # "u:PW_SECRET_123", as the header carries it and as a server may decode it
    header = "Basic dTpQV19TRUNSRVRfMTIz"
    request = httpx.Request("GET", "https://r.example/v2/", headers={"Authorization": header})
    body = {
        "errors": [{"code": "DENIED", "message": f"{header} / u:PW_SECRET_123 / PW_SECRET_123"}]
    }
    response = httpx.Response(403, json=body, request=request)
    assert describe(response) == "HTTP 403 (DENIED: *** / *** / ***)"


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ("::bad", "found a value that is not a URL"),
        (
            "ftp://tokens.example.com/x?token=GHSECRET",
            "found a URL of scheme ftp on tokens.example.com",
        ),
    ],
)
def test_an_unusable_github_token_url_is_one_signing_error(value: str, found: str) -> None:
    source = GitHubActionsToken(value, "GHSECRET")
    with pytest.raises(SigningError) as refused:
        anyio.run(source.read)
    message = str(refused.value)
    assert "ACTIONS_ID_TOKEN_REQUEST_URL" in message
    assert found in message
    assert "GHSECRET" not in message
