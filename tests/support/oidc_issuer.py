"""An OIDC issuer of the tests that mints GitHub-Actions-like ID tokens, on a local address.

It serves what a relying party (Fulcio) reads, ``/.well-known/openid-configuration`` and
the JWKS (``/.well-known/jwks``, RS256, one key made at start), and what a job step reads
in GitHub Actions: ``GET /token`` with ``Authorization: bearer <request token>`` answers
``{"value": "<jwt>"}`` for ``?audience=...``, as ``ACTIONS_ID_TOKEN_REQUEST_URL`` does, and
counts the tokens it handed out (``served``) so a test can tell when one was fetched.
``issue_token()`` mints the same tokens directly, with any claim overridden (a foreign
identity, another audience, an expired token).

Claims follow GitHub's (docs.github.com, "About security hardening with OpenID Connect"):
Fulcio's ``github-workflow`` issuer type requires all of ``job_workflow_ref``,
``job_workflow_sha``, ``sha``, ``event_name``, ``repository``, ``workflow``, ``ref``,
``runner_environment``, ``repository_id``, ``repository_owner``, ``repository_owner_id``,
``repository_visibility``, ``workflow_ref``, ``workflow_sha``, ``run_id`` and
``run_attempt``, and puts ``https://github.com/<job_workflow_ref>`` in the certificate.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from .background import BackgroundServer

if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_AUDIENCE = "sigstore"
DEFAULT_REPOSITORY = "example-org/metrics-api"
DEFAULT_WORKFLOW_FILE = ".github/workflows/release.yml"
DEFAULT_REF = "refs/heads/main"
DEFAULT_LIFETIME = 300.0  # GitHub's tokens live 5 minutes (plus a little)
TOKEN_PATH = "/token"  # noqa: S105 - a path, no secret
JWKS_PATH = "/.well-known/jwks"
DISCOVERY_PATH = "/.well-known/openid-configuration"
_SHA = "4c5e9a1f0d2b3c4d5e6f708192a3b4c5d6e7f809"


def github_claims(
    issuer: str,
    *,
    repository: str = DEFAULT_REPOSITORY,
    workflow_file: str = DEFAULT_WORKFLOW_FILE,
    ref: str = DEFAULT_REF,
) -> dict[str, Any]:
    """The claims GitHub Actions puts in a job's ID token (all but aud/iat/nbf/exp/jti)."""
    owner = repository.split("/", 1)[0]
    workflow_ref = f"{repository}/{workflow_file}@{ref}"
    return {
        "iss": issuer,
        "sub": f"repo:{repository}:ref:{ref}",
        "repository": repository,
        "repository_owner": owner,
        "repository_id": "812345678",
        "repository_owner_id": "91234567",
        "repository_visibility": "public",
        "workflow": "release",
        "workflow_ref": workflow_ref,
        "workflow_sha": _SHA,
        "job_workflow_ref": workflow_ref,
        "job_workflow_sha": _SHA,
        "sha": _SHA,
        "ref": ref,
        "ref_type": "branch" if ref.startswith("refs/heads/") else "tag",
        "ref_protected": "true",
        "event_name": "push",
        "run_id": "15012345678",
        "run_number": "42",
        "run_attempt": "1",
        "runner_environment": "github-hosted",
        "actor": "release-bot",
        "actor_id": "7654321",
        "head_ref": "",
        "base_ref": "",
    }


def certificate_identity(claims: Mapping[str, Any]) -> str:
    """The SAN URI Fulcio's ``github-workflow`` type gives a token with these claims."""
    return f"https://github.com/{claims['job_workflow_ref']}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        """Quiet: tests read ``served`` instead."""

    def _send_json(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        """Discovery, JWKS, or a token for the bearer of the request token."""
        issuer = self.server.issuer
        parts = urlsplit(self.path)
        if parts.path == DISCOVERY_PATH:
            self._send_json(200, issuer.discovery())
        elif parts.path == JWKS_PATH:
            self._send_json(200, issuer.jwks())
        elif parts.path == TOKEN_PATH:
            authorization = self.headers.get("Authorization", "")
            scheme, _, credential = authorization.partition(" ")
            if scheme.lower() != "bearer" or not secrets.compare_digest(
                credential.strip(), issuer.request_token
            ):
                self._send_json(401, {"message": "Bad credentials"})
                return
            audiences = parse_qs(parts.query).get("audience")
            token = issuer.serve_token(audiences[-1] if audiences else None)
            self._send_json(200, {"value": token})
        else:
            self._send_json(404, {"message": "Not Found"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    issuer: OidcIssuer


class _Server6(_Server):
    address_family = socket.AF_INET6


class OidcIssuer(BackgroundServer):
    """The issuer ``http://HOST:PORT``; ``start()`` it (or ``start_oidc_issuer()``).

    ``endpoint_lifetime`` shapes the tokens the token endpoint hands out; a request without
    ``audience`` gets GitHub's default, ``https://github.com/<owner>``.
    """

    def __init__(self, host: str = "127.0.0.1", *, repository: str = DEFAULT_REPOSITORY) -> None:
        """Listen on ``host`` (any local address) once started; a fresh RSA key."""
        self.host = host
        self.repository = repository
        self.request_token = secrets.token_urlsafe(32)
        self.endpoint_lifetime = DEFAULT_LIFETIME
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._kid = uuid.uuid4().hex
        self._lock = threading.Lock()
        self._served = 0

    def _make_server(self) -> ThreadingHTTPServer:
        server_class = _Server6 if ":" in self.host else _Server
        server = server_class((self.host, 0), _Handler)
        server.issuer = self
        return server

    @property
    def url(self) -> str:
        """The issuer URL, the ``iss`` of its tokens (no trailing slash)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def request_url(self) -> str:
        """What GitHub puts in ``ACTIONS_ID_TOKEN_REQUEST_URL`` (clients add ``&audience=``)."""
        return f"{self.url}{TOKEN_PATH}?api-version=2.0"

    @property
    def served(self) -> int:
        """How many tokens the token endpoint handed out so far."""
        with self._lock:
            return self._served

    def claims(self, *, repository: str | None = None) -> dict[str, Any]:
        """The GitHub claims of this issuer's default identity (or of ``repository``)."""
        return github_claims(self.url, repository=repository or self.repository)

    def certificate_identity(self, *, repository: str | None = None) -> str:
        """The certificate identity (SAN URI) a default token (or ``repository``'s) yields."""
        return certificate_identity(self.claims(repository=repository))

    def issue_token(
        self,
        *,
        audience: str | list[str] = DEFAULT_AUDIENCE,
        lifetime: float = DEFAULT_LIFETIME,
        issued_at: float | None = None,
        repository: str | None = None,
        claims: Mapping[str, Any] | None = None,
    ) -> str:
        """A signed RS256 token; ``claims`` override (a value of None removes the claim).

        ``issued_at`` (Unix time, default now) and ``lifetime`` (seconds) set iat/nbf/exp:
        ``issue_token(issued_at=time.time() - 3600)`` is a token that expired 55 min ago.
        """
        now = time.time() if issued_at is None else issued_at
        payload: dict[str, Any] = {
            **self.claims(repository=repository),
            "aud": audience,
            "jti": str(uuid.uuid4()),
            "iat": int(now),
            "nbf": int(now) - 5,
            "exp": int(now + lifetime),
        }
        for name, value in (claims or {}).items():
            if value is None:
                payload.pop(name, None)
            else:
                payload[name] = value
        return jwt.encode(payload, self._key, algorithm="RS256", headers={"kid": self._kid})

    def expired_token(self, *, audience: str = DEFAULT_AUDIENCE) -> str:
        """A default token whose ``exp`` passed an hour ago."""
        return self.issue_token(audience=audience, issued_at=time.time() - 3600 - DEFAULT_LIFETIME)

    def serve_token(self, audience: str | None) -> str:
        """The token endpoint's answer, counted in ``served``."""
        owner = self.repository.split("/", 1)[0]
        token = self.issue_token(
            audience=audience or f"https://github.com/{owner}",
            lifetime=self.endpoint_lifetime,
        )
        with self._lock:
            self._served += 1
        return token

    def discovery(self) -> dict[str, Any]:
        """The OpenID Provider metadata (what go-oidc checks: ``issuer`` equals the URL)."""
        return {
            "issuer": self.url,
            "jwks_uri": f"{self.url}{JWKS_PATH}",
            "subject_types_supported": ["public", "pairwise"],
            "response_types_supported": ["id_token"],
            "claims_supported": sorted({*github_claims(self.url), "aud", "exp", "iat", "nbf"}),
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid"],
        }

    def jwks(self) -> dict[str, Any]:
        """The public key set that verifies this issuer's tokens."""
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        jwk.update({"kid": self._kid, "use": "sig", "alg": "RS256"})
        return {"keys": [jwk]}


def start_oidc_issuer(
    host: str = "127.0.0.1", *, repository: str = DEFAULT_REPOSITORY
) -> OidcIssuer:
    """A running issuer on a free port of ``host``; ``stop()`` it (or use ``with``)."""
    issuer = OidcIssuer(host, repository=repository)
    issuer.start()
    return issuer


__all__ = [
    "DEFAULT_AUDIENCE",
    "DEFAULT_REPOSITORY",
    "OidcIssuer",
    "certificate_identity",
    "github_claims",
    "start_oidc_issuer",
]
