"""Bad input: a clear error, a non-zero exit, and the release tag neither created nor moved."""

import json

import pytest
from support.docker29 import OCI_INDEX, get_manifest, manifest_digest, put_manifest
from support.faultproxy import FaultProxy
from support.images import sha256_digest
from support.oci_cli import AuthRegistry, CliResult, TlsRegistry, Variants, run_cli, run_cli_text
from support.registry import Registry

pytestmark = pytest.mark.integration


def assert_refused(result: CliResult, code: int, *phrases: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.code == code, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for phrase in phrases:
        assert phrase in lines[0]
    assert result.report["ok"] is False


def tag_of(variants: Variants, tag: str) -> str | None:
    return manifest_digest(variants.registry.host, variants.repository, tag)


def test_unknown_reference(variants: Variants) -> None:
    result = run_cli(
        "assemble",
        variants.ref("bad-unknown"),
        "--variant",
        f"linux/amd64={variants.ref('no-such-tag')}",
    )
    assert_refused(result, 1, "no-such-tag", "HTTP 404", "check that")
    assert tag_of(variants, "bad-unknown") is None


def test_variant_built_for_another_platform(variants: Variants) -> None:
    result = run_cli(
        "assemble",
        variants.ref("bad-platform"),
        "--variant",
        f"linux/arm64={variants.ref('v2.0.0-amd64')}",
    )
    assert_refused(result, 1, "declared linux/arm64", "says linux/amd64", "wrong platform")
    assert tag_of(variants, "bad-platform") is None


def test_index_with_two_images_for_one_platform(variants: Variants) -> None:
    arm64 = get_manifest(variants.registry.host, variants.repository, "v2.0.0-arm64").json()
    image_entry = arm64["manifests"][0]
    doubled = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [image_entry, image_entry]}
    ).encode()
    put_manifest(variants.registry.host, variants.repository, "doubled-arm64", doubled, OCI_INDEX)
    result = run_cli(
        "assemble",
        variants.ref("bad-doubled"),
        "--variant",
        f"linux/arm64={variants.ref('doubled-arm64')}",
    )
    assert_refused(result, 1, "expected exactly one image for linux/arm64", "found 2")
    assert tag_of(variants, "bad-doubled") is None


@pytest.mark.parametrize(
    ("extra", "phrase"),
    [
        (
            ["--variant", "linux/amd64={other_ref}"],
            "expected one variant per platform, found two for linux/amd64",
        ),
        (
            # linux/arm64 is linux/arm64/v8 to a pulling client
            ["--variant", "linux/arm64={arm_ref}", "--variant", "linux/arm64/v8={arm_ref}"],
            "expected one variant per platform, found two for linux/arm64/v8",
        ),
        (
            ["--expect", "linux/amd64={amd64}", "--expect", "linux/amd64={other_amd64}"],
            "expected one ledger line per platform, found two for linux/amd64",
        ),
        (["--deadline", "nan"], "argument --deadline: expected a number of seconds"),
        (["--deadline", "-1"], "argument --deadline: expected a number of seconds"),
        (["--request-timeout", "inf"], "argument --request-timeout: expected a number"),
        (["--request-timeout", "0"], "argument --request-timeout: expected a number"),
    ],
)
def test_malformed_input_is_refused_before_any_request(
    variants: Variants, proxy: FaultProxy, extra: list[str], phrase: str
) -> None:
    def through_proxy(text: str) -> str:
        return text.format(
            amd64=variants.amd64,
            other_amd64=variants.other_amd64,
            other_ref=proxy.ref(variants.repository, "v2.0.1-amd64"),
            arm_ref=proxy.ref(variants.repository, "v2.0.0-arm64"),
        )

    result = run_cli(
        "assemble",
        proxy.ref(variants.repository, "bad-duplicate"),
        "--variant",
        f"linux/amd64={proxy.ref(variants.repository, 'v2.0.0-amd64')}",
        *[through_proxy(text) for text in extra],
    )
    assert_refused(result, 2, phrase)
    assert proxy.log == []
    assert tag_of(variants, "bad-duplicate") is None


def test_registry_down(fresh_registry: Registry) -> None:
    fresh_registry.stop()
    result = run_cli(
        "assemble",
        fresh_registry.ref("metrics-api", "v2.0.0"),
        "--variant",
        f"linux/amd64={fresh_registry.ref('metrics-api', 'v2.0.0-amd64')}",
    )
    assert_refused(result, 1, fresh_registry.host, "still failing after 5 attempts", "ConnectError")


def test_a_name_that_does_not_resolve_is_not_retried() -> None:
    result = run_cli("resolve", "registry.invalid/metrics-api:v2.0.0", "--platform", "linux/amd64")
    assert_refused(
        result,
        1,
        "GET https://registry.invalid/v2/metrics-api/manifests/v2.0.0 failed",
        "the name registry.invalid does not resolve",
        "check the registry's name and this machine's DNS",
    )
    assert "--insecure-registry" not in result.stderr
    assert (result.report["requests"], result.report["retries"]) == (1, 0)


def test_an_untrusted_certificate_names_its_issuer_and_is_not_retried(
    tls_registry: TlsRegistry,
) -> None:
    reference = tls_registry.ref("metrics-api", "v2.0.0")
    result = run_cli("resolve", reference, "--platform", "linux/amd64")
    assert_refused(
        result,
        1,
        f"GET https://{tls_registry.host}/v2/metrics-api/manifests/v2.0.0 failed",
        f"the TLS certificate of {tls_registry.host} is not trusted",
        f"it was issued by CN={tls_registry.ca_name}",
        "--ca-file",
    )
    assert "--insecure-registry" not in result.stderr
    assert (result.report["requests"], result.report["retries"]) == (1, 0)
    # The remedy the message gives: trust the CA, and the registry itself answers.
    trusted = run_cli(
        "resolve",
        reference,
        "--platform",
        "linux/amd64",
        env={"SSL_CERT_FILE": str(tls_registry.ca_file)},
    )
    assert_refused(
        trusted, 1, f"GET https://{tls_registry.host}/v2/", "HTTP 404", "MANIFEST_UNKNOWN"
    )


def test_a_password_without_a_username_is_warned_about(variants: Variants) -> None:
    result = run_cli_text(
        "resolve",
        variants.ref("v2.0.0-amd64"),
        "--platform",
        "linux/amd64",
        env={"REGISTRY_PASSWORD": "s3cret-not-used", "DOCKER_CONFIG": "/nonexistent"},
    )
    assert result.returncode == 0, result.stderr
    warning = (
        "warning: $REGISTRY_PASSWORD is set but --username is not, so the password is not "
        "used; pass --username to log in with it"
    )
    assert result.stderr.splitlines() == [warning]
    assert "s3cret-not-used" not in result.stdout + result.stderr
    assert variants.amd64 in result.stdout


def test_401_without_credentials(
    auth_registry: AuthRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", "/nonexistent")
    result = run_cli(
        "resolve", auth_registry.ref("metrics-api", "v2.0.0-amd64"), "--platform", "linux/amd64"
    )
    assert_refused(result, 1, auth_registry.host, "asks for a username and password", "--username")


def test_wrong_password_is_refused_without_echoing_it(auth_registry: AuthRegistry) -> None:
    wrong = "not-the-password-4711"
    result = run_cli(
        "resolve",
        auth_registry.ref("metrics-api", "v2.0.0-amd64"),
        "--platform",
        "linux/amd64",
        "--username",
        auth_registry.username,
        env={"REGISTRY_PASSWORD": wrong, "DOCKER_CONFIG": "/nonexistent"},
    )
    assert_refused(result, 1, "HTTP 401", "even with the configured credentials")
    assert wrong not in result.stderr
    assert wrong not in json.dumps(result.report)


def test_plain_http_url_to_a_registry_is_refused() -> None:
    result = run_cli(
        "assemble",
        "registry.example.com/metrics-api:v2.0.0",
        "--variant",
        "linux/amd64=http://registry.example.com/metrics-api:v2.0.0-amd64",
    )
    assert_refused(result, 2, "no URL scheme", "--insecure-registry")


def test_existing_release_tag_pointing_elsewhere(variants: Variants) -> None:
    target = variants.ref("v2.0.0-conflict")
    first = run_cli("assemble", target, "--variant", f"linux/amd64={variants.ref('v2.0.0-amd64')}")
    assert first.code == 0, first.stderr
    other = [
        "--variant",
        f"linux/amd64={variants.ref('v2.0.1-amd64')}",
        "--variant",
        f"linux/arm64={variants.ref('v2.0.0-arm64')}",
    ]
    refused = run_cli("assemble", target, *other)
    assert_refused(refused, 1, "already points at", str(first.report["digest"]), "--force")
    assert tag_of(variants, "v2.0.0-conflict") == first.report["digest"]
    forced = run_cli("assemble", target, *other, "--force")
    assert forced.code == 0, forced.stderr
    assert forced.report["tag_action"] == "moved"
    assert forced.report["previous_digest"] == first.report["digest"]
    assert tag_of(variants, "v2.0.0-conflict") == forced.report["digest"]
    assert forced.report["verification"]["ok"] is True


def test_a_pinned_digest_that_the_tag_no_longer_matches(variants: Variants) -> None:
    result = run_cli(
        "assemble",
        variants.ref("bad-moved"),
        "--variant",
        f"linux/amd64={variants.ref('v2.0.0-amd64')}",
        "--expect",
        f"linux/amd64={variants.other_amd64}",
    )
    assert_refused(result, 1, "recorded when it was pushed", "assemble from the digest")
    assert tag_of(variants, "bad-moved") is None


def test_digest_reference_is_checked_against_the_bytes(variants: Variants) -> None:
    served = get_manifest(variants.registry.host, variants.repository, "v2.0.0-amd64")
    assert sha256_digest(served.body) == variants.amd64
    result = run_cli("resolve", variants.ref(variants.amd64), "--platform", "linux/amd64")
    assert result.code == 0, result.stderr
    assert result.report["digest"] == variants.amd64
