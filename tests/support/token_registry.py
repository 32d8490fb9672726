"""Distribution with ``auth: token``: every request needs a JWT from the tests' token server.

The registry trusts the token server's self-signed certificate (``rootcertbundle``) and
names it as realm, service and issuer, so a client meets the Bearer challenge a registry
behind a token service (Docker Hub, GitLab, Harbor) sends. Both distribution 2.8 and v3,
whose token checks are separate code (libtrust, then go-jose).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .registry import Registry
from .registry_kinds import DistributionV3Registry
from .token_server import Account

if TYPE_CHECKING:
    from pathlib import Path

    from .token_server import TokenServer


@dataclass(frozen=True)
class Login:
    """A username and password the token server knows."""

    username: str
    password: str


# May pull from every repository, and push to team/* and release/* only.
CI_BOT = Login("ci-bot", "token-horse-battery-staple")
ACCOUNTS = {
    CI_BOT.username: Account(
        CI_BOT.password,
        {
            "*": frozenset({"pull"}),
            "team/*": frozenset({"pull", "push"}),
            "release/*": frozenset({"pull", "push"}),
        },
    )
}


class TokenRegistry(Registry):
    """Distribution 2.8 behind ``token_server``."""

    def __init__(
        self, data_dir: Path, port: int, *, owns_data_dir: bool, token_server: TokenServer
    ) -> None:
        """Prepare it for ``token_server`` (which must be running: its port is the realm)."""
        super().__init__(data_dir, port, owns_data_dir=owns_data_dir)
        self.token_server = token_server

    def _write_config(self) -> None:
        super()._write_config()
        bundle = self.data_dir / "token-issuer.pem"
        bundle.write_bytes(self.token_server.signer.certificate_pem())
        server = self.token_server
        with self.config_path.open("a") as config:
            config.write(
                f'auth: {{token: {{realm: "{server.realm}", service: "{server.service}", '
                f'issuer: "{server.issuer}", rootcertbundle: "{bundle}"}}}}\n'
            )


class TokenRegistryV3(TokenRegistry, DistributionV3Registry):
    """Distribution v3 behind ``token_server``."""


# The implementations a token registry can be, by registry kind.
TOKEN_REGISTRIES: dict[str, type[TokenRegistry]] = {
    "distribution-2.8": TokenRegistry,
    "distribution-3": TokenRegistryV3,
}

__all__ = ["ACCOUNTS", "CI_BOT", "TOKEN_REGISTRIES", "Login", "TokenRegistry", "TokenRegistryV3"]
