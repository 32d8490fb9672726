"""The tests' token server: what it grants, and that distribution accepts its tokens."""

import base64

import httpx
import pytest
from support.token_registry import CI_BOT, TokenRegistry
from support.token_server import TokenServer
from support.token_signing import token_claims

pytestmark = pytest.mark.integration

TEAM_PUSH = "repository:team/metrics-api:pull,push"


def basic(username: str, password: str) -> dict[str, str]:
    return {
        "Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
    }


def ask(server: TokenServer, *scopes: str, headers: dict[str, str] | None = None) -> httpx.Response:
    params: list[tuple[str, str | int | float | bool | None]] = [
        ("service", server.service),
        *(("scope", scope) for scope in scopes),
    ]
    return httpx.get(server.realm, params=params, headers=headers or {}, timeout=10)


def access(response: httpx.Response) -> list[dict[str, object]]:
    granted: list[dict[str, object]] = token_claims(response.json()["token"])["access"]
    return granted


def test_a_token_grants_only_what_the_account_may_do(token_server: TokenServer) -> None:
    answer = ask(
        token_server,
        TEAM_PUSH,
        "repository:elsewhere/metrics-api:pull,push",
        headers=basic(CI_BOT.username, CI_BOT.password),
    )
    assert answer.status_code == 200
    claims = token_claims(answer.json()["token"])
    assert (claims["iss"], claims["aud"], claims["sub"]) == (
        token_server.issuer,
        token_server.service,
        CI_BOT.username,
    )
    assert claims["access"] == [
        {"type": "repository", "name": "team/metrics-api", "actions": ["pull", "push"]},
        {"type": "repository", "name": "elsewhere/metrics-api", "actions": ["pull"]},
    ]


def test_anonymous_requests_may_only_pull(token_server: TokenServer) -> None:
    answer = ask(token_server, TEAM_PUSH)
    assert answer.status_code == 200
    assert access(answer) == [
        {"type": "repository", "name": "team/metrics-api", "actions": ["pull"]}
    ]
    assert token_server.log[-1].account == ""


def test_a_wrong_password_gets_no_token(token_server: TokenServer) -> None:
    answer = ask(token_server, TEAM_PUSH, headers=basic(CI_BOT.username, "wrong"))
    assert answer.status_code == 401
    assert "token" not in answer.json()
    entry = token_server.log[-1]
    assert (entry.account, entry.status, entry.granted) == (CI_BOT.username, 401, ())
    assert "wrong" not in repr(token_server.log)


def test_a_refused_scope_is_403(token_server: TokenServer) -> None:
    token_server.refuse("team/metrics-api", "push")
    try:
        refused = ask(token_server, TEAM_PUSH, headers=basic(CI_BOT.username, CI_BOT.password))
        pulled = ask(
            token_server,
            "repository:team/metrics-api:pull",
            headers=basic(CI_BOT.username, CI_BOT.password),
        )
    finally:
        token_server.allow_all()
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["code"] == "DENIED"
    assert pulled.status_code == 200


def test_the_registry_accepts_the_tokens_and_their_scopes_only(
    token_registry: TokenRegistry, token_server: TokenServer
) -> None:
    catalog = f"{token_registry.url}/v2/team/metrics-api/tags/list"
    challenge = httpx.get(catalog, timeout=10)
    assert challenge.status_code == 401
    assert challenge.headers["WWW-Authenticate"].startswith(
        f'Bearer realm="{token_server.realm}",service="{token_server.service}"'
    )
    pull = ask(token_server, "repository:team/metrics-api:pull").json()["token"]
    listed = httpx.get(catalog, headers={"Authorization": f"Bearer {pull}"}, timeout=10)
    assert listed.status_code in {200, 404}  # authorised; the repository may be empty yet
    upload = f"{token_registry.url}/v2/team/metrics-api/blobs/uploads/"
    refused = httpx.post(upload, headers={"Authorization": f"Bearer {pull}"}, timeout=10)
    assert refused.status_code == 401
    assert 'error="insufficient_scope"' in refused.headers["WWW-Authenticate"]
    forged = pull[:-8] + ("A" * 8 if not pull.endswith("A" * 8) else "B" * 8)
    bad = httpx.get(catalog, headers={"Authorization": f"Bearer {forged}"}, timeout=10)
    assert bad.status_code == 401
