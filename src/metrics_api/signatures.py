"""Signing inputs from the Dagger functions' arguments (keys, keyless), checked before any work."""

from functools import partial

import dagger

from metrics_api.access import revealed
from metrics_api.oci.errors import InvalidInputError
from metrics_api.oci.signing.bundle_check import KeylessVerification
from metrics_api.oci.signing.identity_tokens import GitHubActionsToken, GivenToken
from metrics_api.oci.signing.keyless import IdentityPolicy, SigstoreTrust
from metrics_api.oci.signing.keyless_store import KeylessSigning
from metrics_api.oci.signing.keys import PublicKey, SigningKey, load_public_keys, load_signing_key


async def open_signing_key(
    key: dagger.Secret | None, password: dagger.Secret | None
) -> SigningKey | None:
    """The ``--signing-key``, opened with ``--signing-key-password``; None when not given."""
    if key is None:
        if password is not None:
            msg = (
                "expected --signing-key with --signing-key-password, found only the password; "
                "pass --signing-key file:cosign.key (or leave the password out)"
            )
            raise InvalidInputError(msg)
        return None
    text = await revealed(key, "--signing-key")
    secret = await revealed(password, "--signing-key-password") if password is not None else None
    return load_signing_key(
        text.encode(),
        secret,
        where="--signing-key",
        given_in="--signing-key-password",
    )


async def public_keys(files: list[dagger.File]) -> list[PublicKey]:
    """Every key of every ``--public-key`` file."""
    keys = []
    for number, file in enumerate(files, 1):
        where = "--public-key" if len(files) == 1 else f"--public-key (file {number})"
        keys.extend(load_public_keys((await file.contents()).encode(), where))
    return keys


async def keyless_signing(
    keyless: bool,
    identity_token: dagger.Secret | None,
    id_token_request_url: dagger.Secret | None,
    id_token_request_token: dagger.Secret | None,
    trust_config: dagger.File | None,
) -> KeylessSigning | None:
    """``--keyless``, its Sigstore and where its token comes from; None without it."""
    github = (id_token_request_url, id_token_request_token)
    if not keyless:
        if identity_token or any(github) or trust_config:
            msg = (
                "expected --keyless with --identity-token, --id-token-request-url or "
                "--trust-config, found them without it; add --keyless to sign keyless"
            )
            raise InvalidInputError(msg)
        return None
    trust = await _trust(trust_config)
    trust.check(signing=True)
    if identity_token is not None:
        token = partial(revealed, identity_token, "--identity-token")
        return KeylessSigning(trust, GivenToken("--identity-token", token))
    if id_token_request_url is None or id_token_request_token is None:
        msg = (
            "--keyless was given, so expected --identity-token (e.g. env:SIGSTORE_ID_TOKEN) "
            "or, on GitHub Actions, both --id-token-request-url env:ACTIONS_ID_TOKEN_REQUEST_URL "
            "and --id-token-request-token env:ACTIONS_ID_TOKEN_REQUEST_TOKEN, found "
            f"{'only one of the latter' if any(github) else 'none'}; give them"
        )
        raise InvalidInputError(msg)
    url = await revealed(id_token_request_url, "--id-token-request-url")
    request_token = await revealed(id_token_request_token, "--id-token-request-token")
    return KeylessSigning(
        trust, GitHubActionsToken(url, request_token, what="--id-token-request-url")
    )


async def keyless_verification(
    identity: str, identity_regexp: str, issuer: str, trust_config: dagger.File | None
) -> KeylessVerification | None:
    """The certificate identity ``verify`` wants; None when none is given."""
    if not (identity or identity_regexp):
        given = [
            flag
            for flag, value in (
                ("--certificate-oidc-issuer", issuer),
                ("--trust-config", trust_config),
            )
            if value
        ]
        if given:
            msg = (
                "expected --certificate-identity (or --certificate-identity-regexp) with "
                f"{' and '.join(given)}, found no identity; give the identity too"
            )
            raise InvalidInputError(msg)
        return None
    policy = IdentityPolicy(issuer=issuer, identity=identity, identity_pattern=identity_regexp)
    trust = await _trust(trust_config)
    trust.check(signing=False)
    return KeylessVerification(policy, trust)


async def _trust(file: dagger.File | None) -> SigstoreTrust:
    if file is None:
        return SigstoreTrust()
    return SigstoreTrust(await file.contents(), "--trust-config")
