import base64
import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from metrics_api.oci.errors import AuthenticationError, InvalidInputError
from metrics_api.oci.registry.auth import (
    Credentials,
    CredentialStore,
    auths_from_text,
    load_docker_config,
    parse_challenge,
)

pytestmark = pytest.mark.unit


def test_parses_bearer_challenges() -> None:
    challenge = parse_challenge(
        'Bearer realm="https://auth.example.com/token",service="registry.example.com",'
        'scope="repository:metrics-api:pull"'
    )
    assert challenge.scheme == "bearer"
    assert challenge.params == {
        "realm": "https://auth.example.com/token",
        "service": "registry.example.com",
        "scope": "repository:metrics-api:pull",
    }
    assert parse_challenge('Basic realm="r"').scheme == "basic"


def test_reads_auths_from_the_docker_config(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "auths": {
                    "https://index.docker.io/v1/": {
                        "auth": base64.b64encode(b"hub:s3cret").decode()
                    },
                    "registry.example.com:5000": {"username": "ci", "password": "p4ss"},
                    "https://ghcr.example/v2/": {"identitytoken": "id-token-77"},
                    "empty.example": {},
                }
            }
        )
    )
    found = load_docker_config(config).auths
    assert set(found) == {"registry-1.docker.io", "registry.example.com:5000", "ghcr.example"}
    assert found["registry-1.docker.io"].username == "hub"
    assert found["registry-1.docker.io"].password.get_secret_value() == "s3cret"
    assert found["registry-1.docker.io"].source == f"auths in {config}"
    token = found["ghcr.example"]
    assert token.identity_token is not None
    assert token.identity_token.get_secret_value() == "id-token-77"
    assert (token.username, token.password.get_secret_value()) == ("<token>", "id-token-77")
    assert "s3cret" not in repr(found)
    assert "p4ss" not in str(found)
    assert "id-token-77" not in repr(token)


def test_missing_docker_config_means_no_credentials(tmp_path: Path) -> None:
    config = load_docker_config(tmp_path / "absent.json")
    assert (dict(config.auths), config.creds_store, dict(config.cred_helpers)) == ({}, "", {})
    assert CredentialStore.from_sources({}, tmp_path / "absent.json").for_host("r.example") is None


def test_reads_the_helpers_docker_would_ask(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "credsStore": "desktop",
                "credHelpers": {
                    "https://index.docker.io/v1/": "pass",
                    "123.dkr.ecr.example.com": "ecr-login",
                },
            }
        )
    )
    found = load_docker_config(config)
    assert found.creds_store == "desktop"
    assert dict(found.cred_helpers) == {
        "registry-1.docker.io": "pass",
        "123.dkr.ecr.example.com": "ecr-login",
    }


@pytest.mark.parametrize(
    ("document", "named"),
    [
        ({"credsStore": ["pass"]}, "credsStore"),
        ({"credHelpers": ["pass"]}, "credHelpers"),
        ({"credHelpers": {"r.example": 1}}, "credHelpers"),
        (["not", "an", "object"], "a JSON object"),
    ],
)
def test_malformed_helper_settings_are_explained(
    tmp_path: Path, document: object, named: str
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(document))
    with pytest.raises(InvalidInputError, match=named) as caught:
        load_docker_config(config)
    assert str(config) in str(caught.value)


def test_a_helper_name_that_is_not_a_name_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credHelpers": {"r.example": "../../bin/sh"}}))
    store = CredentialStore.from_sources({}, config)
    with pytest.raises(InvalidInputError, match=r"credential helper name .* '\.\./\.\./bin/sh'"):
        store.for_host("r.example")


def test_a_helper_that_is_not_installed_is_named_with_where_it_was_configured(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"credsStore": "metrics-api-absent", "auths": {"r.example": {"auth": "dTpw"}}})
    )
    store = CredentialStore.from_sources({}, config)  # nothing runs until a registry asks
    with pytest.raises(AuthenticationError) as caught:
        store.for_host("r.example")
    message = str(caught.value)
    assert "`docker-credential-metrics-api-absent` is not installed or not on PATH" in message
    assert f"credsStore in {config}" in message
    assert caught.value.host == "r.example"


def test_broken_docker_config_is_explained(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text("{not json")
    with pytest.raises(InvalidInputError, match="DOCKER_CONFIG"):
        load_docker_config(config)


def test_explicit_credentials_win(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {"r.example": {"username": "a", "password": "b"}}}))
    explicit = {"r.example": Credentials(username="c", password=SecretStr("d"))}
    store = CredentialStore.from_sources(explicit, config)
    found = store.for_host("r.example")
    assert found is not None
    assert found.username == "c"


def test_explicit_credentials_mean_no_helper_runs(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credsStore": "metrics-api-absent"}))
    explicit = {"r.example": Credentials(username="c", password=SecretStr("d"))}
    found = CredentialStore.from_sources(explicit, config).for_host("r.example")
    assert found is not None
    assert found.username == "c"


def test_auths_given_as_text_never_touch_disk_and_never_echo() -> None:
    secret = base64.b64encode(b"ci:s3cret-value").decode()
    text = json.dumps({"auths": {"registry.example.com": {"auth": secret}}, "credsStore": "pass"})
    found = auths_from_text(text, "--docker-config")
    assert found["registry.example.com"].username == "ci"
    assert found["registry.example.com"].password.get_secret_value() == "s3cret-value"
    assert found["registry.example.com"].source == "auths in --docker-config"
    with pytest.raises(InvalidInputError) as broken:
        auths_from_text('{"auths": {"r.example": {"auth": "s3cret-value', "--docker-config")
    assert str(broken.value).startswith("expected --docker-config to be a Docker config.json")
    assert "s3cret" not in str(broken.value)
