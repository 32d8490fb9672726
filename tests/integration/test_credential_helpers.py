"""Docker config credential helpers, run for real: docker-credential-pass and the CLI."""

import base64
import json
import os
from pathlib import Path

import pytest
from support.oci_cli import AuthRegistry, Variants, run_cli
from support.pass_store import HELPER, PassStore

from metrics_api.oci.errors import AuthenticationError
from metrics_api.oci.registry.auth import CredentialStore

pytestmark = pytest.mark.integration

SCRIPT_HELPER = "metrics-api-script"
# A helper speaking the protocol's other answers, which docker-credential-pass never gives.
SCRIPT = """#!/bin/sh
server=$(cat)
echo "$1 $server" >>"{log}"
case "$server" in
  found.example) echo '{{"ServerURL":"found.example","Username":"u","Secret":"from-script"}}' ;;
  locked.example) echo "the keyring is locked"; exit 1 ;;
  garbled.example) echo "hunter2-not-json" ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
"""


def docker_config(directory: Path, document: dict[str, object]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.json"
    path.write_text(json.dumps(document))
    return path


def store_for(path: Path) -> CredentialStore:
    return CredentialStore.from_sources({}, path)


@pytest.fixture
def use_pass(pass_store: PassStore, monkeypatch: pytest.MonkeyPatch) -> PassStore:
    """The helper runs with this process's environment: point it at the test store."""
    for name, value in pass_store.env().items():
        monkeypatch.setenv(name, value)
    return pass_store


@pytest.fixture
def script_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Install the script helper first on PATH; the returned file logs every call."""
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    helper = bin_dir / f"docker-credential-{SCRIPT_HELPER}"
    helper.write_text(SCRIPT.format(log=log))
    helper.chmod(0o755)
    log.write_text("")
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return log


def test_a_credential_the_helper_stored_is_used(use_pass: PassStore, tmp_path: Path) -> None:
    use_pass.store("helper-a.example:5000", "ci", "s3cret-from-pass")
    config = docker_config(tmp_path, {"credHelpers": {"helper-a.example:5000": HELPER}})
    found = store_for(config).for_host("helper-a.example:5000")
    assert found is not None
    assert (found.username, found.password.get_secret_value()) == ("ci", "s3cret-from-pass")
    assert found.identity_token is None
    assert found.source == "docker-credential-pass"
    assert "s3cret-from-pass" not in repr(found)


def test_the_default_helper_serves_docker_hub_under_its_server_url(
    use_pass: PassStore, tmp_path: Path
) -> None:
    use_pass.store("https://index.docker.io/v1/", "hub-user", "hub-s3cret")
    config = docker_config(tmp_path, {"credsStore": HELPER})
    found = store_for(config).for_host("registry-1.docker.io")
    assert found is not None
    assert (found.username, found.password.get_secret_value()) == ("hub-user", "hub-s3cret")


def test_a_token_username_marks_an_identity_token(use_pass: PassStore, tmp_path: Path) -> None:
    use_pass.store("token.example", "<token>", "refresh-token-value")
    config = docker_config(tmp_path, {"credsStore": HELPER})
    found = store_for(config).for_host("token.example")
    assert found is not None
    assert found.identity_token is not None
    assert found.identity_token.get_secret_value() == "refresh-token-value"
    # What a basic-auth-only client sends is unchanged: <token> and the token.
    assert (found.username, found.password.get_secret_value()) == ("<token>", "refresh-token-value")
    assert "refresh-token-value" not in repr(found)


@pytest.mark.usefixtures("use_pass")
def test_nothing_stored_means_anonymous_whatever_auths_holds(tmp_path: Path) -> None:
    auth = base64.b64encode(b"stale:plain-text").decode()
    config = docker_config(
        tmp_path, {"credsStore": HELPER, "auths": {"unknown.example": {"auth": auth}}}
    )
    assert store_for(config).for_host("unknown.example") is None


def test_cred_helpers_win_over_creds_store_and_run_only_when_asked(
    use_pass: PassStore, script_log: Path, tmp_path: Path
) -> None:
    use_pass.store("helper-b.example", "ci", "per-registry")
    config = docker_config(
        tmp_path, {"credsStore": SCRIPT_HELPER, "credHelpers": {"helper-b.example": HELPER}}
    )
    store = store_for(config)
    assert script_log.read_text() == ""  # loading the config runs no helper
    found = store.for_host("helper-b.example")
    assert found is not None
    assert found.password.get_secret_value() == "per-registry"
    assert script_log.read_text() == ""
    for _ in range(3):
        default = store.for_host("found.example")
        assert default is not None
        assert default.password.get_secret_value() == "from-script"
    assert script_log.read_text() == "get found.example\n"  # once per registry


def test_the_protocols_not_found_answer_means_anonymous(script_log: Path, tmp_path: Path) -> None:
    config = docker_config(tmp_path, {"credHelpers": {"other.example": SCRIPT_HELPER}})
    assert store_for(config).for_host("other.example") is None
    assert script_log.read_text() == "get other.example\n"


def test_a_failing_helper_is_named_with_its_message(script_log: Path, tmp_path: Path) -> None:
    config = docker_config(tmp_path, {"credHelpers": {"locked.example": SCRIPT_HELPER}})
    with pytest.raises(AuthenticationError) as caught:
        store_for(config).for_host("locked.example")
    message = str(caught.value)
    assert f"`docker-credential-{SCRIPT_HELPER} get`" in message
    assert f"credHelpers in {config}" in message
    assert "the keyring is locked" in message
    assert script_log.read_text() == "get locked.example\n"


def test_an_unreadable_answer_is_refused_without_quoting_it(
    script_log: Path, tmp_path: Path
) -> None:
    config = docker_config(tmp_path, {"credsStore": SCRIPT_HELPER})
    with pytest.raises(AuthenticationError, match=r"expected .* to print JSON") as caught:
        store_for(config).for_host("garbled.example")
    assert "hunter2" not in str(caught.value)
    assert script_log.read_text() == "get garbled.example\n"


def test_the_command_line_authenticates_through_a_credential_helper(
    variants: Variants, auth_registry: AuthRegistry, pass_store: PassStore, tmp_path: Path
) -> None:
    pass_store.store(auth_registry.host, auth_registry.username, auth_registry.password)
    wrong = base64.b64encode(f"{auth_registry.username}:wrong-password".encode()).decode()
    # credHelpers for the registry: Docker then ignores the (wrong) plain-text auths entry.
    per_registry = docker_config(
        tmp_path / "per-registry",
        {
            "auths": {auth_registry.host: {"auth": wrong}},
            "credHelpers": {auth_registry.host: HELPER},
        },
    )
    default = docker_config(tmp_path / "default", {"credsStore": HELPER})
    target = auth_registry.ref("helper/metrics-api", "v2.0.0")

    def cli(config: Path, *args: str) -> dict[str, object]:
        result = run_cli(*args, env={"DOCKER_CONFIG": str(config.parent), **pass_store.env()})
        assert result.code == 0, result.stderr
        assert auth_registry.password not in result.stderr + json.dumps(result.report)
        return result.report

    assembled = cli(per_registry, "assemble", target, *variants.variant_flags())
    ledger = [
        "--expect",
        f"linux/amd64={variants.amd64}",
        "--expect",
        f"linux/arm64={variants.arm64}",
    ]
    verified = cli(per_registry, "verify", target, *ledger)
    assert verified["ok"] is True
    assert verified["digest"] == assembled["digest"]
    resolved = cli(default, "resolve", target, "--platform", "linux/arm64")
    assert resolved["digest"] == variants.arm64


def test_a_helper_that_is_not_installed_is_named(
    auth_registry: AuthRegistry, tmp_path: Path
) -> None:
    config = docker_config(tmp_path, {"credsStore": "metrics-api-absent"})
    result = run_cli(
        "resolve",
        auth_registry.ref("helper/metrics-api", "v2.0.0"),
        "--platform",
        "linux/amd64",
        env={"DOCKER_CONFIG": str(tmp_path)},
    )
    assert result.code == 1
    assert "`docker-credential-metrics-api-absent` is not installed" in result.stderr
    assert f"credsStore in {config}" in result.stderr
