"""Which certificate authorities the command line trusts, and HTTPS registries on loopback."""

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.oci_cli import (
    AuthRegistry,
    CliResult,
    LoopbackTlsRegistry,
    TlsRegistry,
    Variants,
    run_cli,
)
from support.proc import require_tool, run
from support.registry import RegistryStartError, ToolMissingError, free_port

pytestmark = pytest.mark.integration

SYSTEM_CAS = Path("/usr/local/share/ca-certificates")


def one_error_line(result: CliResult, code: int) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.code == code, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def reached(result: CliResult, url: str) -> None:
    """The registry itself answered (an unknown tag), so TLS was trusted."""
    line = one_error_line(result, 1)
    assert f"GET {url}" in line
    assert "HTTP 404" in line
    assert "MANIFEST_UNKNOWN" in line


@pytest.fixture(scope="module")
def loopback_tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRegistry]:
    data_dir = tmp_path_factory.mktemp("loopback-tls-registry")
    try:
        registry = LoopbackTlsRegistry(data_dir, free_port(), owns_data_dir=False)
        registry.start()
    except (ToolMissingError, RegistryStartError) as exc:
        pytest.fail(str(exc), pytrace=False)
    yield registry
    registry.close()


def test_ca_file_trusts_a_private_authority(tls_registry: TlsRegistry) -> None:
    reference = tls_registry.ref("metrics-api", "v2.0.0")
    untrusted = one_error_line(run_cli("resolve", reference, "--platform", "linux/amd64"), 1)
    assert f"issued by CN={tls_registry.ca_name}" in untrusted
    assert "pass --ca-file with the PEM certificate of that authority" in untrusted

    trusted = run_cli(
        "resolve", reference, "--platform", "linux/amd64", "--ca-file", str(tls_registry.ca_file)
    )
    reached(trusted, f"https://{tls_registry.host}/v2/metrics-api/manifests/v2.0.0")


def test_the_system_trust_store_is_trusted(tls_registry: TlsRegistry) -> None:
    """A CA added as an administrator adds it (update-ca-certificates) needs no option."""
    require_tool("update-ca-certificates", "ca-certificates")
    installed = SYSTEM_CAS / f"metrics-api-test-{uuid.uuid4().hex[:8]}.crt"
    SYSTEM_CAS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tls_registry.ca_file, installed)
    try:
        run(["update-ca-certificates"], timeout=120)
        result = run_cli(
            "resolve", tls_registry.ref("metrics-api", "v2.0.0"), "--platform", "linux/amd64"
        )
    finally:
        installed.unlink()
        run(["update-ca-certificates", "--fresh"], timeout=120)
    reached(result, f"https://{tls_registry.host}/v2/metrics-api/manifests/v2.0.0")


def test_an_https_registry_on_loopback_is_reached_over_https(
    loopback_tls_registry: TlsRegistry, variants: Variants
) -> None:
    """An SSH tunnel to an HTTPS registry: plain HTTP is tried first, the server says TLS."""
    target = loopback_tls_registry.ref("tunnel/metrics-api", "v2.0.0")
    result = run_cli(
        "assemble",
        target,
        "--variant",
        f"linux/amd64={variants.ref(variants.amd64)}",
        "--variant",
        f"linux/arm64={variants.ref(variants.arm64_index)}",
        "--ca-file",
        str(loopback_tls_registry.ca_file),
    )
    assert result.code == 0, result.stderr
    assert result.report["verification"]["ok"] is True
    assert [v["child_action"] for v in result.report["variants"]] == ["copied", "copied"]


class LoopbackTlsAuthRegistry(LoopbackTlsRegistry, AuthRegistry):
    """An SSH tunnel to an HTTPS registry that wants credentials."""


def test_credentials_follow_a_loopback_registry_found_to_speak_tls(
    tmp_path: Path, variants: Variants
) -> None:
    """Plain HTTP first, TLS found, then the challenge: the credentials go over TLS."""
    registry = LoopbackTlsAuthRegistry(tmp_path, free_port(), owns_data_dir=False)
    try:
        registry.start()
    except (ToolMissingError, RegistryStartError) as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        result = run_cli(
            "assemble",
            registry.ref("tunnel/metrics-api", "v2.0.0"),
            "--variant",
            f"linux/amd64={variants.ref(variants.amd64)}",
            "--ca-file",
            str(registry.ca_file),
            "--username",
            registry.username,
            env={"REGISTRY_PASSWORD": registry.password},
        )
    finally:
        registry.close()
    assert result.code == 0, result.stderr
    assert result.report["verification"]["ok"] is True


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "expected --ca-file to name a readable PEM file"),
        ("not a certificate\n", "to hold PEM certificates (-----BEGIN CERTIFICATE-----)"),
    ],
)
def test_a_bad_ca_file_is_refused_before_any_request(
    tmp_path: Path, variants: Variants, content: str | None, expected: str
) -> None:
    path = tmp_path / "ca.pem"
    if content is not None:
        path.write_text(content)
    result = run_cli(
        "resolve", variants.ref("v2.0.0-amd64"), "--platform", "linux/amd64", "--ca-file", str(path)
    )
    assert expected in one_error_line(result, 2)
