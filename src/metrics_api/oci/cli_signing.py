"""The command line's signing inputs: keys, and keyless signing's Sigstore and token.

Each is read and checked before any request; a keyless token is read again right before
signing. Key bytes, passwords and tokens never enter a message.
"""

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from metrics_api.oci.errors import InvalidInputError
from metrics_api.oci.signing.bundle_check import KeylessVerification
from metrics_api.oci.signing.identity_tokens import GitHubActionsToken, GivenToken, TokenSource
from metrics_api.oci.signing.keyless import IdentityPolicy, SigstoreTrust
from metrics_api.oci.signing.keyless_store import KeylessSigning
from metrics_api.oci.signing.keys import PublicKey, SigningKey, load_public_keys, load_signing_key

# Where CI systems put a Sigstore token: GitLab's id_tokens by cosign's convention, and
# GitHub Actions' endpoint (the job's permission id-token: write).
TOKEN_VARIABLE = "SIGSTORE_ID_TOKEN"  # noqa: S105 - a variable's name
GITHUB_URL = "ACTIONS_ID_TOKEN_REQUEST_URL"
GITHUB_TOKEN = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"  # noqa: S105 - a variable's name


def read_file(path: str, flag: str, what: str) -> bytes:
    """A file named by ``flag``, or one error line naming the flag and the path."""
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise InvalidInputError(
            f"expected {flag} to name a readable file with {what}, found {path!r} "
            f"({error.strerror or error}); check the path"
        ) from None


def signing_key(args: argparse.Namespace) -> SigningKey | None:
    """The ``--signing-key``, opened with its password."""
    if not args.signing_key:
        return None
    data = read_file(args.signing_key, "--signing-key", "a private key")
    password = os.environ.get(args.signing_password_env)
    return load_signing_key(
        data,
        password,
        where=f"--signing-key {args.signing_key}",
        given_in=f"${args.signing_password_env}",
    )


def public_keys(paths: Sequence[str]) -> list[PublicKey]:
    """Every key of every ``--public-key`` file."""
    keys = []
    for path in paths:
        data = read_file(path, "--public-key", "a PEM public key")
        keys.extend(load_public_keys(data, f"--public-key {path}"))
    return keys


def _trust(path: str | None) -> SigstoreTrust:
    if not path:
        return SigstoreTrust()
    data = read_file(path, "--trust-config", "a Sigstore ClientTrustConfig")
    return SigstoreTrust(data.decode(errors="replace"), f"--trust-config {path}")


@dataclass(frozen=True)
class _Variable:
    """An environment variable read when asked, so a refreshed one is seen."""

    name: str

    async def __call__(self) -> str:
        return os.environ.get(self.name, "")


def _tokens(variable: str | None) -> TokenSource:
    """``--identity-token-env``, else GitHub Actions' endpoint, else $SIGSTORE_ID_TOKEN."""
    if variable:
        return GivenToken(f"${variable} (--identity-token-env)", _Variable(variable))
    if os.environ.get(GITHUB_URL) and os.environ.get(GITHUB_TOKEN):
        return GitHubActionsToken(os.environ[GITHUB_URL], os.environ[GITHUB_TOKEN])
    if os.environ.get(TOKEN_VARIABLE):
        return GivenToken(f"${TOKEN_VARIABLE}", _Variable(TOKEN_VARIABLE))
    raise InvalidInputError(
        f"--keyless was given, so expected an OIDC identity token, found none: no "
        f"--identity-token-env, no ${GITHUB_URL} (GitHub Actions with permission id-token: "
        f"write) and no ${TOKEN_VARIABLE} (GitLab: id_tokens with aud: sigstore); give one"
    )


def keyless_signing(args: argparse.Namespace) -> KeylessSigning | None:
    """``--keyless`` with its Sigstore and token source; None without ``--keyless``."""
    if not args.keyless:
        if args.identity_token_env or args.trust_config:
            raise InvalidInputError(
                "expected --keyless with --identity-token-env or --trust-config, found them "
                "without it; add --keyless to sign keyless"
            )
        return None
    trust = _trust(args.trust_config)
    trust.check(signing=True)
    return KeylessSigning(trust, _tokens(args.identity_token_env))


def keyless_verification(args: argparse.Namespace) -> KeylessVerification | None:
    """The certificate identity a verification wants; None when none is given."""
    if not (args.certificate_identity or args.certificate_identity_regexp):
        given = [
            flag
            for flag, value in (
                ("--certificate-oidc-issuer", args.certificate_oidc_issuer),
                ("--trust-config", args.trust_config),
            )
            if value
        ]
        if given:
            raise InvalidInputError(
                "expected --certificate-identity (or --certificate-identity-regexp) with "
                f"{' and '.join(given)}, found no identity; give the identity too"
            )
        return None
    policy = IdentityPolicy(
        issuer=args.certificate_oidc_issuer or "",
        identity=args.certificate_identity or "",
        identity_pattern=args.certificate_identity_regexp or "",
    )
    trust = _trust(args.trust_config)
    trust.check(signing=False)
    return KeylessVerification(policy, trust)
