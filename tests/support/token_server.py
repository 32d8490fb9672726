"""A token server for registry tests: Docker's token authentication, as distribution wants it.

A registry configured with ``auth: token`` answers a request without a token 401 with
``WWW-Authenticate: Bearer realm=...,service=...,scope=...``; the client asks this server
(``GET /token?service=S&scope=repository:NAME:pull,push``, with Basic credentials when it
has some) for a JWT that grants those scopes, and sends the request again with it.

What it grants (Docker Hub's policy):
- Basic credentials are checked: wrong ones get 401 and no token.
- A token grants, per requested repository, only the actions the account may do there,
  never an error for the rest: the registry then refuses what is missing (401).
- Anonymous requests get a token that may pull from every repository, nothing more.
- ``refuse(repository, action)`` makes it answer 403 DENIED instead, as token servers that
  refuse what they will not grant do (GitLab's, for one).
- ``POST /token`` with the OAuth2 refresh-token grant (distribution's oauth.md) exchanges a
  refresh token from ``issue_refresh_token`` (what `docker login` stores as an identity
  token) for an access token; with ``oauth`` off it answers 404, as GET-only servers do.

``log`` holds, per request, the account, the scopes asked and granted, and the status:
never a password or a token.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import hmac
import json
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from .background import BackgroundServer
from .token_signing import TokenSigner

if TYPE_CHECKING:
    from collections.abc import Mapping

TOKEN_LIFETIME = 300  # seconds, as Docker Hub's


@dataclass(frozen=True)
class Account:
    """A password, and the actions it may do on repositories matching each pattern."""

    password: str
    grants: Mapping[str, frozenset[str]]

    def may(self, repository: str) -> frozenset[str]:
        """Every action this account may do on ``repository``."""
        allowed: set[str] = set()
        for pattern, actions in self.grants.items():
            if fnmatch.fnmatchcase(repository, pattern):
                allowed |= actions
        return frozenset(allowed)


ANONYMOUS = Account("", {"*": frozenset({"pull"})})


@dataclass(frozen=True)
class TokenRequest:
    """One request as the server answered it; ``account`` is "" when anonymous."""

    account: str
    scopes: tuple[str, ...]
    granted: tuple[str, ...]  # in scope syntax; empty unless a token was issued
    status: int


@dataclass(frozen=True)
class Scope:
    """``repository:NAME:ACTIONS``, the resource part of a requested scope."""

    type: str
    name: str
    actions: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Scope:
        """Parse one scope; a repository name has no colon, the host is not part of it."""
        kind, _, rest = text.partition(":")
        name, _, actions = rest.rpartition(":")
        return cls(kind, name, tuple(a for a in actions.split(",") if a))

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


def _error(code: str, message: str) -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message}]}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Quiet: the server keeps its own log, without secrets."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        headers: dict[str, str] = {}
        if url.path != "/token":
            status, body = 404, _error("NOT_FOUND", "no such endpoint")
        else:
            token_server = self.server.token_server
            status, body, headers = token_server.answer(
                self.headers.get("Authorization"), url.query
            )
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        form = self.rfile.read(length).decode() if length else ""
        token_server = self.server.token_server
        if url.path != "/token" or not token_server.oauth:
            status, body = 404, _error("NOT_FOUND", "no such endpoint")
        else:
            status, body = token_server.answer_oauth(form)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    token_server: TokenServer


class TokenServer(BackgroundServer):
    """The server: ``start()`` it, point a registry at ``realm``, ``stop()`` it."""

    service = "metrics-api-tests"
    issuer = "metrics-api-test-token-server"

    def __init__(self, accounts: Mapping[str, Account]) -> None:
        """Serve tokens for ``accounts`` (by username), signed by a key made now."""
        self.accounts = dict(accounts)
        self.signer = TokenSigner(self.issuer)
        self._refused: set[tuple[str, str]] = set()  # (repository, action)
        self._refresh_tokens: dict[str, str] = {}  # refresh token -> username
        self.oauth = True  # serve POST /token; False answers 404, as GET-only servers do
        self._lock = threading.Lock()
        self._log: list[TokenRequest] = []

    # -- lifecycle -------------------------------------------------------------------

    def _make_server(self) -> _Server:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.token_server = self
        return server

    @property
    def realm(self) -> str:
        """The token endpoint's URL, for the registry's ``auth.token.realm``."""
        return f"http://127.0.0.1:{self.port}/token"

    # -- policy and log --------------------------------------------------------------

    def refuse(self, repository: str, action: str) -> None:
        """From now on, answer 403 to any request for ``action`` on ``repository``."""
        with self._lock:
            self._refused.add((repository, action))

    def allow_all(self) -> None:
        """Forget every ``refuse()``."""
        with self._lock:
            self._refused.clear()

    @property
    def log(self) -> list[TokenRequest]:
        """Every request so far, in arrival order."""
        with self._lock:
            return list(self._log)

    def _record(self, entry: TokenRequest) -> None:
        with self._lock:
            self._log.append(entry)

    def _authenticate(self, authorization: str | None) -> tuple[str, Account | None]:
        """The username the Basic credentials give, and its account if they are right."""
        if not authorization:
            return "", ANONYMOUS
        scheme, _, encoded = authorization.partition(" ")
        try:
            pair = base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return "", None
        username, _, password = pair.partition(":")
        account = self.accounts.get(username)
        if scheme.lower() != "basic" or account is None:
            return username, None
        if not hmac.compare_digest(password.encode(), account.password.encode()):
            return username, None
        return username, account

    def answer(
        self, authorization: str | None, query: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Status, JSON body and headers for ``GET /token?{query}``."""
        params = parse_qs(query)
        scopes = tuple(part for value in params.get("scope", []) for part in value.split())
        if params.get("service") != [self.service]:
            return 400, _error("UNSUPPORTED", f"this server issues tokens for {self.service}"), {}
        name, account = self._authenticate(authorization)
        if account is None:
            self._record(TokenRequest(name, scopes, (), 401))
            headers = {"WWW-Authenticate": f'Basic realm="{self.realm}"'}
            return 401, _error("UNAUTHORIZED", "incorrect username or password"), headers
        status, body = self._grant(name, account, scopes)
        return status, body, {}

    def issue_refresh_token(self, username: str) -> str:
        """A refresh token for ``username``, as `docker login` stores an identity token."""
        token = uuid.uuid4().hex
        with self._lock:
            self._refresh_tokens[token] = username
        return token

    def answer_oauth(self, form: str) -> tuple[int, dict[str, Any]]:
        """Status and JSON body for ``POST /token`` with the refresh-token grant (oauth.md)."""
        fields = {key: values[0] for key, values in parse_qs(form).items()}
        scopes = tuple(fields.get("scope", "").split())
        if fields.get("service") != self.service or not fields.get("client_id"):
            return 400, _error("UNSUPPORTED", "service and client_id are required")
        with self._lock:
            name = self._refresh_tokens.get(fields.get("refresh_token", ""), "")
        account = self.accounts.get(name)
        if fields.get("grant_type") != "refresh_token" or account is None:
            self._record(TokenRequest(name, scopes, (), 401))
            return 401, _error("UNAUTHORIZED", "invalid refresh token")
        return self._grant(name, account, scopes)

    def _grant(
        self, name: str, account: Account, scopes: tuple[str, ...]
    ) -> tuple[int, dict[str, Any]]:
        """A token for what ``account`` may do of ``scopes`` (403 for a refused scope)."""
        requested = [Scope.parse(text) for text in scopes]
        with self._lock:
            refused = any(
                (scope.name, action) in self._refused
                for scope in requested
                for action in scope.actions
            )
        if refused:
            self._record(TokenRequest(name, scopes, (), 403))
            return 403, _error("DENIED", "requested access to the resource is denied")
        granted = [
            Scope(scope.type, scope.name, tuple(a for a in scope.actions if a in allowed))
            for scope in requested
            if scope.type == "repository" and (allowed := account.may(scope.name))
        ]
        granted = [scope for scope in granted if scope.actions]
        self._record(TokenRequest(name, scopes, tuple(str(s) for s in granted), 200))
        now = int(time.time())
        token = self.signer.sign(
            {
                "iss": self.issuer,
                "sub": name,
                "aud": self.service,
                "exp": now + TOKEN_LIFETIME,
                "nbf": now,
                "iat": now,
                "jti": uuid.uuid4().hex,
                "access": [
                    {"type": s.type, "name": s.name, "actions": list(s.actions)} for s in granted
                ],
            }
        )
        issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        body = {"token": token, "access_token": token, "expires_in": TOKEN_LIFETIME}
        return 200, {**body, "issued_at": issued}


def start_token_server(accounts: Mapping[str, Account]) -> TokenServer:
    """A running token server for ``accounts``; the caller stops it."""
    return TokenServer(accounts).start()


__all__ = ["ANONYMOUS", "Account", "Scope", "TokenRequest", "TokenServer", "start_token_server"]
