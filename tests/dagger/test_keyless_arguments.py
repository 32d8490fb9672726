"""The keyless arguments of the Dagger functions: Secrets read late, Files checked early."""

import json
from pathlib import Path
from typing import cast

import anyio
import dagger
import pytest
import sigstore

from metrics_api.oci.signing.bundle_check import KeylessVerification
from metrics_api.oci.signing.identity_tokens import GitHubActionsToken
from metrics_api.oci.signing.keyless_store import KeylessSigning
from metrics_api.pipeline_errors import PipelineError, core_errors
from metrics_api.signatures import keyless_signing, keyless_verification

pytestmark = pytest.mark.dagger

# The public-good instance's roots as sigstore-python ships them: real documents, read whole.
PUBLIC_GOOD = Path(sigstore.__file__).parent / "_store" / "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev"
TRUSTED_ROOT = (PUBLIC_GOOD / "trusted_root.json").read_text()
TRUST_CONFIG = json.dumps(
    {
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": json.loads(TRUSTED_ROOT),
        "signingConfig": json.loads((PUBLIC_GOOD / "signing_config.v0.2.json").read_text()),
    }
)
ISSUER = "https://token.actions.githubusercontent.com"


class _Secret:
    """A Secret whose reads are counted: the engine reads one when ``plaintext`` is awaited."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.reads = 0

    async def plaintext(self) -> str:
        self.reads += 1
        return self.value


class _File:
    def __init__(self, text: str) -> None:
        self.text = text

    async def contents(self) -> str:
        return self.text


def secret(value: str) -> _Secret:
    return _Secret(value)


def file(text: str) -> dagger.File:
    return cast("dagger.File", _File(text))


def signing(
    *,
    keyless: bool,
    token: _Secret | None = None,
    url: _Secret | None = None,
    request: _Secret | None = None,
    trust: dagger.File | None = None,
) -> KeylessSigning | None:
    async def job() -> KeylessSigning | None:
        with core_errors():
            return await keyless_signing(
                keyless,
                cast("dagger.Secret | None", token),
                cast("dagger.Secret | None", url),
                cast("dagger.Secret | None", request),
                trust,
            )

    return anyio.run(job)


def test_without_keyless_nothing_is_read_and_nothing_signs() -> None:
    assert signing(keyless=False) is None


def test_keyless_flags_without_keyless_are_refused_naming_the_flag() -> None:
    with pytest.raises(PipelineError, match="expected --keyless with --identity-token"):
        signing(keyless=False, token=secret("t"))


def test_the_identity_token_secret_is_read_only_when_the_release_asks() -> None:
    token = secret("header.payload.signature")

    made = signing(keyless=True, token=token, trust=file(TRUST_CONFIG))

    assert made is not None
    assert token.reads == 0, "read right before signing, not when the call starts"
    assert anyio.run(made.tokens.read) == "header.payload.signature"
    assert anyio.run(made.tokens.read) == "header.payload.signature"
    assert token.reads == 2
    assert made.tokens.what == "--identity-token"


def test_github_actions_request_secrets_make_a_token_endpoint() -> None:
    made = signing(
        keyless=True,
        url=secret("https://actions.example/token?x=1"),
        request=secret("request-token"),
    )

    assert made is not None
    assert isinstance(made.tokens, GitHubActionsToken)
    assert made.tokens.url == "https://actions.example/token?x=1"
    assert "request-token" not in repr(made)
    assert made.trust.document is None, "the public-good Sigstore by default"


@pytest.mark.parametrize(
    ("url", "request_token", "found"),
    [(None, None, "found none"), ("u", None, "found only one of the latter")],
)
def test_keyless_without_a_token_source_names_both_ways(
    url: str | None, request_token: str | None, found: str
) -> None:
    with pytest.raises(PipelineError) as raised:
        signing(
            keyless=True,
            url=secret(url) if url else None,
            request=secret(request_token) if request_token else None,
        )
    assert str(raised.value).startswith(
        "--keyless was given, so expected --identity-token (e.g. env:SIGSTORE_ID_TOKEN) or, on "
        "GitHub Actions, both --id-token-request-url env:ACTIONS_ID_TOKEN_REQUEST_URL and "
        f"--id-token-request-token env:ACTIONS_ID_TOKEN_REQUEST_TOKEN, {found}"
    )


def test_signing_needs_a_client_trust_config_a_trusted_root_only_verifies() -> None:
    with pytest.raises(PipelineError, match="expected --trust-config to be a ClientTrustConfig"):
        signing(keyless=True, token=secret("t"), trust=file(TRUSTED_ROOT))
    with pytest.raises(PipelineError, match="expected --trust-config to be a Sigstore"):
        signing(keyless=True, token=secret("t"), trust=file("not json"))

    async def verifying() -> KeylessVerification | None:
        return await keyless_verification("id", "", ISSUER, file(TRUSTED_ROOT))

    checked = anyio.run(verifying)
    assert checked is not None
    assert checked.policy.identity == "id"


def test_a_trust_config_without_an_identity_is_refused_not_ignored() -> None:
    async def job() -> KeylessVerification | None:
        with core_errors():
            return await keyless_verification("", "", "", file(TRUSTED_ROOT))

    with pytest.raises(PipelineError, match="with --trust-config, found no identity"):
        anyio.run(job)


@pytest.mark.parametrize(
    ("identity", "pattern", "issuer", "message"),
    [
        ("", "", ISSUER, "with --certificate-oidc-issuer, found no identity; give the identity"),
        ("a", "b", ISSUER, "found both; give only one"),
        ("a", "", "", "found none; pass --certificate-identity"),
    ],
)
def test_an_identity_that_cannot_match_is_one_line_naming_these_flags(
    identity: str, pattern: str, issuer: str, message: str
) -> None:
    async def job() -> KeylessVerification | None:
        with core_errors():
            return await keyless_verification(identity, pattern, issuer, None)

    with pytest.raises(PipelineError, match=message):
        anyio.run(job)
