"""Each failure that a setting cures names the setting that helps that registry, in each front end.

`verify` gives the hint `release` gives for the same cause, and credentials for a registry
that --username never reaches are asked of what does reach it.
"""

from typing import Any

import anyio
import pytest
from support.oci_cli import AuthRegistry, CliResult, TlsRegistry, Variants, run_cli

from metrics_api.main import MetricsApi
from metrics_api.pipeline_errors import PipelineError

pytestmark = pytest.mark.integration


def one_error_line(result: CliResult) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.code == 1, result.stderr
    assert len(lines) == 1, result.stderr
    assert result.report["ok"] is False
    return lines[0]


def dagger_error(function: Any, **arguments: object) -> str:  # noqa: ANN401 - any function
    """What a Dagger function ends with, called the way the SDK calls it."""
    module = MetricsApi.__dagger_module__  # type: ignore[attr-defined]
    with pytest.raises(PipelineError) as raised:
        anyio.run(lambda: module.call(function, **arguments))
    return str(raised.value)


def ledger(variants: Variants) -> list[str]:
    return [f"linux/amd64={variants.amd64}", f"linux/arm64={variants.arm64}"]


def test_verify_of_an_untrusted_registry_says_to_pass_the_ca_file(
    tls_registry: TlsRegistry, variants: Variants
) -> None:
    target = tls_registry.ref("metrics-api", "v2.0.0")
    expect = [f for line in ledger(variants) for f in ("--expect", line)]
    line = one_error_line(run_cli("verify", target, *expect))
    assert f"issued by CN={tls_registry.ca_name}" in line
    assert "pass --ca-file with the PEM certificate of that authority" in line

    message = dagger_error(MetricsApi().verify, target=target, expect=ledger(variants))
    assert f"issued by CN={tls_registry.ca_name}" in message
    assert message.endswith(
        "pass --ca-file with the PEM certificate of that authority (the module's container "
        "trusts only public ones)"
    )


def test_verify_with_a_wrong_password_says_which_credentials(
    auth_registry: AuthRegistry, variants: Variants
) -> None:
    result = run_cli(
        "verify",
        auth_registry.ref("metrics-api", "v2.0.0"),
        *(f for line in ledger(variants) for f in ("--expect", line)),
        "--username",
        auth_registry.username,
        env={"REGISTRY_PASSWORD": "not-the-password", "DOCKER_CONFIG": "/nonexistent"},
    )
    line = one_error_line(result)
    assert "even with the configured credentials" in line
    assert line.endswith(
        "pass --username with the password in $REGISTRY_PASSWORD (or the variable named by "
        f"--password-env), or run `docker login {auth_registry.host}`"
    )
    assert "not-the-password" not in result.stderr


def test_a_source_registry_refusing_asks_for_what_reaches_it(
    auth_registry: AuthRegistry, variants: Variants
) -> None:
    """--username goes to the target only: a variant's registry needs the Docker config."""
    target = variants.ref("remedy-target")
    source = auth_registry.ref("metrics-api", "v2.0.0-amd64")
    result = run_cli(
        "assemble",
        target,
        "--variant",
        f"linux/amd64={source}",
        "--username",
        "someone",
        env={"REGISTRY_PASSWORD": "for-the-target", "DOCKER_CONFIG": "/nonexistent"},
    )
    line = one_error_line(result)
    assert f"{auth_registry.host} asks for a username and password" in line
    assert line.endswith(
        f"run `docker login {auth_registry.host}`, or add {auth_registry.host} to the "
        "config.json in $DOCKER_CONFIG"
    )

    message = dagger_error(MetricsApi().assemble, target=target, variants=[f"linux/amd64={source}"])
    assert f"{auth_registry.host} asks for a username and password" in message
    assert message.endswith(f"pass a --docker-config whose auths hold {auth_registry.host}")
