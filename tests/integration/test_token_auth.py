"""The command line against registries with token auth (distribution 2.8 and v3).

The client answers the registry's Bearer challenge with a token from the token server,
asking for the scopes each request needs (two repositories for a cross-repository
mount); the token server grants only what the account may do. Secrets never show.
"""

import json
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from pydantic import SecretStr
from support.docker29 import ACCEPT_ALL
from support.faultproxy import FaultProxy, start_proxy
from support.oci_cli import CliResult, Variants, run_cli
from support.registry import Registry
from support.token_registry import CI_BOT
from support.token_server import TOKEN_LIFETIME, TokenServer

import metrics_api.oci.registry.bearer as bearer_module
from metrics_api.oci import AuthenticationError, Settings, open_client, parse_reference
from metrics_api.oci.registry.auth import Credentials

pytestmark = pytest.mark.integration

LOGIN = ("--username", CI_BOT.username)
ENV = {"REGISTRY_PASSWORD": CI_BOT.password, "DOCKER_CONFIG": "/nonexistent"}
ANONYMOUS = {"DOCKER_CONFIG": "/nonexistent"}


def assemble(
    variants: Variants, target: str, *extra: str, env: dict[str, str] | None = None
) -> CliResult:
    env = ENV if env is None else env
    return run_cli("assemble", target, *variants.variant_flags(), *extra, env=env)


def refused_line(result: CliResult) -> str:
    """The one ``error:`` line of a run that failed (exit 1, ``ok: false``)."""
    lines = result.stderr.strip().splitlines()
    assert result.code == 1, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert result.report["ok"] is False
    return lines[0]


def assert_no_secret(result: CliResult) -> None:
    for text in (result.stderr, json.dumps(result.report)):
        assert CI_BOT.password not in text


def test_assembles_and_verifies_with_bearer_tokens(
    token_variants: Variants, token_server: TokenServer
) -> None:
    asked = len(token_server.log)
    result = assemble(token_variants, token_variants.ref("v2.0.0"), *LOGIN)
    assert result.code == 0, result.stderr
    report = result.report
    assert report["verification"]["ok"] is True
    entries = [(e["platform"], e["digest"]) for e in report["entries"]]
    assert entries == [
        ("linux/amd64", token_variants.amd64),
        ("linux/arm64/v8", token_variants.arm64),
    ]
    assert [v["child_action"] for v in report["variants"]] == ["present", "present"]
    tokens = token_server.log[asked:]
    assert tokens, "no token was asked for"
    assert {(t.account, t.status) for t in tokens} == {(CI_BOT.username, 200)}
    assert all(t.granted == t.scopes for t in tokens), tokens  # all it asked, it may do
    assert_no_secret(result)


def test_a_cross_repository_mount_gets_a_token_for_both_repositories(
    token_variants: Variants, token_server: TokenServer
) -> None:
    asked = len(token_server.log)
    result = assemble(
        token_variants, token_variants.registry.ref("release/metrics-api", "v2"), *LOGIN
    )
    assert result.code == 0, result.stderr
    assert [v["child_action"] for v in result.report["variants"]] == ["mounted", "mounted"]
    assert result.report["verification"]["ok"] is True
    mount_scopes = (
        "repository:release/metrics-api:pull,push",
        f"repository:{token_variants.repository}:pull",
    )
    mounts = [t for t in token_server.log[asked:] if t.scopes == mount_scopes]
    assert mounts  # (the concurrent mounts may each ask before the first token is cached)
    assert all(t.granted == mount_scopes for t in mounts)


def test_verify_through_the_command_line(token_variants: Variants) -> None:
    assert assemble(token_variants, token_variants.ref("v2.0.0")).code == 0
    result = run_cli(
        "verify",
        token_variants.ref("v2.0.0"),
        "--expect",
        f"linux/amd64={token_variants.amd64}",
        "--expect",
        f"linux/arm64={token_variants.arm64}",
        *LOGIN,
        env=ENV,
    )
    assert result.code == 0, result.stderr
    assert result.report["ok"] is True
    assert [e["digest"] for e in result.report["entries"]] == [
        token_variants.amd64,
        token_variants.arm64,
    ]


def test_resolve_with_credentials_and_anonymously(
    token_variants: Variants, token_server: TokenServer
) -> None:
    arm64 = token_variants.ref("v2.0.0-arm64")
    with_login = run_cli("resolve", arm64, "--platform", "linux/arm64", *LOGIN, env=ENV)
    assert with_login.code == 0, with_login.stderr
    assert with_login.report["digest"] == token_variants.arm64
    assert with_login.report["unwrapped_from"] == token_variants.arm64_index
    anonymous = run_cli("resolve", arm64, "--platform", "linux/arm64", env=ANONYMOUS)
    assert anonymous.code == 0, anonymous.stderr  # anonymous tokens may pull
    assert anonymous.report["digest"] == token_variants.arm64
    assert token_server.log[-1].account == ""


def test_anonymous_cannot_push(token_variants: Variants) -> None:
    result = assemble(token_variants, token_variants.ref("v2.0.0-anonymous"), env=ANONYMOUS)
    line = refused_line(result)
    assert "HTTP 401" in line
    assert f"may push to {token_variants.repository}" in line
    assert "--username" in line  # the command line's hint


def test_a_wrong_password_is_refused_without_echoing_it(
    token_variants: Variants, token_server: TokenServer
) -> None:
    wrong = "not-the-token-password-4711"
    result = run_cli(
        "resolve",
        token_variants.ref("v2.0.0-amd64"),
        "--platform",
        "linux/amd64",
        *LOGIN,
        env={**ENV, "REGISTRY_PASSWORD": wrong},
    )
    line = refused_line(result)
    assert "token service" in line
    assert "HTTP 401 (UNAUTHORIZED: incorrect username or password)" in line
    assert f"check the username and password for {token_variants.registry.host}" in line
    assert "--username" in line  # the command line's hint
    assert wrong not in result.stderr
    assert wrong not in json.dumps(result.report)
    assert (token_server.log[-1].account, token_server.log[-1].status) == (CI_BOT.username, 401)


def test_a_repository_the_account_may_not_push_to(token_variants: Variants) -> None:
    target = token_variants.registry.ref("elsewhere/metrics-api", "v2.0.0")
    result = assemble(token_variants, target, *LOGIN)
    line = refused_line(result)
    assert "HTTP 401" in line
    assert "even with the configured credentials" in line
    assert "may push to elsewhere/metrics-api" in line
    assert_no_secret(result)


def test_a_token_server_that_refuses_a_scope(
    token_variants: Variants, token_server: TokenServer
) -> None:
    token_server.refuse("release/refused", "push")
    try:
        target = token_variants.registry.ref("release/refused", "v2.0.0")
        result = assemble(token_variants, target, *LOGIN)
    finally:
        token_server.allow_all()
    line = refused_line(result)
    assert "token service" in line
    assert "HTTP 403 (DENIED: requested access to the resource is denied)" in line
    assert "for repository:release/refused:pull,push" in line  # what was refused
    assert "the account may not have this access" in line
    assert "--username" not in line  # the credentials were right
    assert_no_secret(result)
    assert tag_digest(token_variants.registry, token_server, "release/refused", "v2.0.0") is None


def tag_digest(registry: Registry, server: TokenServer, repository: str, tag: str) -> str | None:
    """What ``tag`` points at, asked with an anonymous pull token; None when absent."""
    token = httpx.get(
        server.realm,
        params={"service": server.service, "scope": f"repository:{repository}:pull"},
        timeout=10,
    ).json()["token"]
    answer = httpx.head(
        f"{registry.url}/v2/{repository}/manifests/{tag}",
        headers={"Authorization": f"Bearer {token}", "Accept": ACCEPT_ALL},
        timeout=10,
    )
    if answer.status_code == httpx.codes.NOT_FOUND:
        return None
    assert answer.status_code == httpx.codes.OK, answer.status_code
    return answer.headers["Docker-Content-Digest"]


def identity_token_config(tmp_path: Path, host: str, token: str) -> dict[str, str]:
    """A Docker config whose login for ``host`` is an identity token, as `docker login` keeps."""
    config = tmp_path / "docker"
    config.mkdir()
    (config / "config.json").write_text(json.dumps({"auths": {host: {"identitytoken": token}}}))
    return {"DOCKER_CONFIG": str(config)}


def test_an_identity_token_is_exchanged_with_the_oauth2_refresh_grant(
    token_variants: Variants, token_server: TokenServer, tmp_path: Path
) -> None:
    refresh = token_server.issue_refresh_token(CI_BOT.username)
    env = identity_token_config(tmp_path, token_variants.registry.host, refresh)
    asked = len(token_server.log)
    result = assemble(token_variants, token_variants.ref("v2.0.0-identity"), env=env)
    assert result.code == 0, result.stderr
    assert result.report["verification"]["ok"] is True
    tokens = token_server.log[asked:]
    assert tokens
    assert {(t.account, t.status) for t in tokens} == {(CI_BOT.username, 200)}
    assert refresh not in result.stderr + json.dumps(result.report)


def test_a_token_server_without_the_oauth2_flow_is_asked_the_get_way(
    token_variants: Variants, token_server: TokenServer, tmp_path: Path
) -> None:
    refresh = token_server.issue_refresh_token(CI_BOT.username)
    env = identity_token_config(tmp_path, token_variants.registry.host, refresh)
    token_server.oauth = False
    try:
        asked = len(token_server.log)
        result = run_cli(
            "resolve", token_variants.ref("v2.0.0-amd64"), "--platform", "linux/amd64", env=env
        )
    finally:
        token_server.oauth = True
    line = refused_line(result)
    assert "answered HTTP 401" in line
    # The fallback sent the token as Docker's GET flow does (username <token>), and no more.
    assert [(t.account, t.status) for t in token_server.log[asked:]] == [("<token>", 401)]
    assert refresh not in line


class Clock:
    """The client's token clock, moved forward by the test instead of waiting."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.ahead


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moved = Clock()
    monkeypatch.setattr(bearer_module, "_now", moved)
    return moved


@pytest.fixture
def proxy(token_variants: Variants) -> Iterator[FaultProxy]:
    """A proxy in front of the token registry, to see each request's answer."""
    with start_proxy(token_variants.registry.host) as started:
        yield started


def logged_in(variants: Variants) -> Settings:
    password = SecretStr(CI_BOT.password)
    login = {variants.registry.host: Credentials(username=CI_BOT.username, password=password)}
    return Settings(credentials=login, use_docker_config=False)


def statuses_since(token_server: TokenServer, asked: int) -> list[int]:
    return [t.status for t in token_server.log[asked:]]


def test_a_token_is_renewed_before_it_expires_not_after_a_refusal(
    token_variants: Variants, token_server: TokenServer, proxy: FaultProxy, clock: Clock
) -> None:
    """A long job (a large layer's upload) must not send a request with an expired token:
    the registry would refuse it, and a streamed upload would start over."""
    manifest = proxy.ref(token_variants.repository, "v2.0.0-amd64")
    asked = len(token_server.log)

    async def job() -> None:
        async with open_client(logged_in(token_variants)) as client:
            await client.get_manifest(parse_reference(manifest))
            clock.ahead = 0.7 * TOKEN_LIFETIME  # not yet three quarters of its life
            await client.get_manifest(parse_reference(manifest))
            assert statuses_since(token_server, asked) == [200]
            clock.ahead = 0.8 * TOKEN_LIFETIME
            await client.get_manifest(parse_reference(manifest))

    anyio.run(job)
    assert statuses_since(token_server, asked) == [200, 200]  # the first token, its renewal
    assert [e.status for e in proxy.log] == [401, 200, 200, 200]


def test_requests_that_find_the_token_old_share_one_renewal(
    token_variants: Variants, token_server: TokenServer, proxy: FaultProxy, clock: Clock
) -> None:
    manifest = parse_reference(proxy.ref(token_variants.repository, "v2.0.0-amd64"))
    asked = len(token_server.log)

    async def job() -> None:
        async with open_client(logged_in(token_variants)) as client:
            await client.get_manifest(manifest)
            clock.ahead = 0.8 * TOKEN_LIFETIME
            async with anyio.create_task_group() as group:
                for _ in range(4):
                    group.start_soon(client.get_manifest, manifest)

    anyio.run(job)
    assert statuses_since(token_server, asked) == [200, 200]
    assert [e.status for e in proxy.log] == [401, 200, 200, 200, 200, 200]


def test_while_the_token_service_fails_the_old_token_serves_until_it_expires(
    token_variants: Variants, token_server: TokenServer, proxy: FaultProxy, clock: Clock
) -> None:
    manifest = parse_reference(proxy.ref(token_variants.repository, "v2.0.0-amd64"))
    asked = len(token_server.log)

    async def job() -> None:
        async with open_client(logged_in(token_variants)) as client:
            await client.get_manifest(manifest)
            token_server.refuse(token_variants.repository, "pull")
            clock.ahead = 0.8 * TOKEN_LIFETIME
            await client.get_manifest(manifest)  # the renewal is refused: the old token serves
            clock.ahead = TOKEN_LIFETIME + 1
            with pytest.raises(AuthenticationError, match="answered HTTP 403"):
                await client.get_manifest(manifest)

    try:
        anyio.run(job)
    finally:
        token_server.allow_all()
    assert statuses_since(token_server, asked) == [200, 403, 403]
    assert [e.status for e in proxy.log] == [401, 200, 200]


def test_requests_sent_at_once_before_any_token_share_the_first_one(
    token_variants: Variants, token_server: TokenServer, proxy: FaultProxy
) -> None:
    manifest = parse_reference(proxy.ref(token_variants.repository, "v2.0.0-amd64"))
    asked = len(token_server.log)

    async def job() -> None:
        async with (
            open_client(logged_in(token_variants)) as client,
            anyio.create_task_group() as group,
        ):
            for _ in range(4):
                group.start_soon(client.get_manifest, manifest)

    anyio.run(job)
    assert statuses_since(token_server, asked) == [200]
    assert sorted(e.status or 0 for e in proxy.log) == [200] * 4 + [401] * 4
