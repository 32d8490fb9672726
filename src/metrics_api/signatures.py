"""Signing and public keys from the Dagger functions' arguments, checked before any work."""

import dagger

from metrics_api.access import revealed
from metrics_api.oci.errors import InvalidInputError
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
