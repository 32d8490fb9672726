import base64
import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from metrics_api.oci.auth import Credentials, CredentialStore, load_docker_config, parse_challenge
from metrics_api.oci.errors import InvalidInputError

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
                    "https://ghcr.example/v2/": {"identitytoken": "tok"},
                    "empty.example": {},
                }
            }
        )
    )
    found = load_docker_config(config)
    assert set(found) == {"registry-1.docker.io", "registry.example.com:5000", "ghcr.example"}
    assert found["registry-1.docker.io"].username == "hub"
    assert found["registry-1.docker.io"].password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(found)
    assert "p4ss" not in str(found)


def test_missing_docker_config_means_no_credentials(tmp_path: Path) -> None:
    assert load_docker_config(tmp_path / "absent.json") == {}


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
