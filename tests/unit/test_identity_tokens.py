"""Identity tokens as CI systems hand them in: checked before any request, never shown."""

import base64
import json
import time

import anyio
import pytest

from metrics_api.oci.errors import InvalidInputError, Remedy
from metrics_api.oci.signing.identity_tokens import GivenToken, check_token, fresh_token
from metrics_api.oci.signing.keyless import IdentityPolicy

pytestmark = pytest.mark.unit

NOW = 1_800_000_000


def jwt(claims: dict[str, object]) -> str:
    """An unsigned JWT with ``claims`` (Fulcio checks signatures; this side does not)."""

    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2lnbmF0dXJl"


def claims(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "iss": "https://token.actions.githubusercontent.com",
        "sub": "repo:acme/metrics-api:ref:refs/heads/main",
        "aud": "sigstore",
        "exp": NOW + 300,
        "iat": NOW,
    }
    return {key: value for key, value in {**base, **changes}.items() if value is not None}


def refused(token: str) -> str:
    with pytest.raises(InvalidInputError) as raised:
        check_token(token, "$SIGSTORE_ID_TOKEN", now=NOW)
    assert token not in str(raised.value), "a token must never enter a message"
    return str(raised.value)


def test_a_good_token_gives_its_issuer_subject_and_expiry() -> None:
    checked = check_token(jwt(claims(aud=["other", "sigstore"])), "t", now=NOW)
    assert checked.issuer == "https://token.actions.githubusercontent.com"
    assert checked.subject == "repo:acme/metrics-api:ref:refs/heads/main"
    assert checked.expires == NOW + 300


def test_an_expired_token_says_when_it_expired() -> None:
    message = refused(jwt(claims(exp=NOW - 60)))
    assert message.startswith("expected $SIGSTORE_ID_TOKEN to be valid for at least 10 s more")
    assert "found it expired at 2027-01-15T07:59:00Z (60 s ago); give a fresh token" in message


def test_a_token_about_to_expire_is_refused_before_fulcio_sees_it() -> None:
    assert "found 5 s left" in refused(jwt(claims(exp=NOW + 5)))


def test_a_token_for_another_audience_names_the_audience_sigstore_wants() -> None:
    message = refused(jwt(claims(aud="https://github.com/acme")))
    assert message.startswith(
        "expected $SIGSTORE_ID_TOKEN to be issued for the audience sigstore, found "
        "https://github.com/acme; ask your CI for a token with audience sigstore"
    )


def test_something_that_is_not_a_jwt_is_one_line() -> None:
    for text in ["ghs_0123456789abcdef", "a.b.c", "x.bm90IGpzb24.y"]:
        message = refused(text)
        assert message.startswith("expected $SIGSTORE_ID_TOKEN to be an OIDC identity token")
        assert "\n" not in message


def test_an_access_token_without_the_oidc_claims_is_named_by_what_it_has() -> None:
    message = refused(jwt({"scope": "repo", "exp": NOW + 300}))
    assert "carry the claims iss, sub and exp, found exp, scope" in message


def test_a_token_is_read_when_asked_for_not_before() -> None:
    values = [jwt(claims(exp=int(time.time()) + 600)), ""]
    reads = []

    async def reader() -> str:
        reads.append(1)
        return values[len(reads) - 1]

    source = GivenToken("--identity-token", reader)
    assert reads == []
    token, _ = anyio.run(fresh_token, source)
    assert token == values[0]
    with pytest.raises(InvalidInputError, match="found it empty"):
        anyio.run(fresh_token, source)
    assert len(reads) == 2


def test_an_identity_policy_matches_exactly_or_by_a_searched_pattern() -> None:
    issuer = "https://token.actions.githubusercontent.com"
    exact = IdentityPolicy(issuer=issuer, identity="https://github.com/acme/a/.github/w.yml@x")
    assert exact.admits("https://github.com/acme/a/.github/w.yml@x", issuer)
    assert not exact.admits("https://github.com/acme/a/.github/w.yml@y", issuer)
    assert not exact.admits("https://github.com/acme/a/.github/w.yml@x", "https://other")
    pattern = IdentityPolicy(issuer=issuer, identity_pattern="^https://github.com/acme/")
    assert pattern.admits("https://github.com/acme/b/.github/w.yml@x", issuer)
    assert not pattern.admits("https://github.com/evil/acme/", issuer)


@pytest.mark.parametrize(
    ("identity", "pattern", "issuer", "found", "remedy"),
    [
        # Both given: the fix is to drop one, not the flags' hint that asks for them.
        ("a", "b", "i", "found both; give only one", None),
        ("", "", "i", "found neither", Remedy.IDENTITY),
        ("a", "", "", "the issuer of the signer's token", Remedy.IDENTITY),
        # Given, but wrong: the fix is the pattern itself.
        ("", "(", "i", "to be a regular expression, found '('", None),
    ],
)
def test_an_identity_policy_refuses_what_cannot_match(
    identity: str, pattern: str, issuer: str, found: str, remedy: Remedy | None
) -> None:
    with pytest.raises(InvalidInputError, match=found.replace("(", r"\(")) as raised:
        IdentityPolicy(issuer=issuer, identity=identity, identity_pattern=pattern)
    assert raised.value.remedy is remedy
