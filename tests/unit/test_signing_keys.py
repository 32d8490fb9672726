"""Signing keys as users hand them in: PEM keys, encrypted or not, and public key files."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from metrics_api.oci.errors import InvalidInputError
from metrics_api.oci.signing.keys import load_public_keys, load_signing_key

pytestmark = pytest.mark.unit

PASSWORD = "pem-pa55"  # noqa: S105 - a test key's password


def pem(key: ec.EllipticCurvePrivateKey, password: str | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = serialization.NoEncryption()
    if password:
        encryption = serialization.BestAvailableEncryption(password.encode())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def opened(data: bytes, password: str | None) -> str:
    key = load_signing_key(data, password, where="--signing-key k.pem", given_in="$PW")
    return key.public.key_id


def test_a_plain_key_opens_and_a_password_meant_for_other_keys_is_ignored() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    assert opened(pem(key), None) == opened(pem(key), "set for another key")


def test_an_encrypted_key_needs_its_password_and_says_so_without_showing_it() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    data = pem(key, PASSWORD)
    assert opened(data, PASSWORD) == opened(pem(key), None)
    with pytest.raises(InvalidInputError) as missing:
        opened(data, None)
    assert str(missing.value) == (
        "expected the password of the encrypted key --signing-key k.pem, found none; give it in $PW"
    )
    with pytest.raises(InvalidInputError) as wrong:
        opened(data, "wrong-9876")
    assert "wrong password in $PW" in str(wrong.value)
    assert "wrong-9876" not in str(wrong.value)


def test_another_curve_or_no_key_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="found an EC key on secp384r1"):
        opened(pem(ec.generate_private_key(ec.SECP384R1())), None)
    with pytest.raises(InvalidInputError, match="found something else"):
        opened(b"not a key", None)


def test_a_public_key_file_may_hold_several_keys() -> None:
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(2)]
    data = b"".join(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        for key in keys
    )
    loaded = load_public_keys(data, "--public-key both.pub")
    assert [k.key_id for k in loaded] == [opened(pem(key), None) for key in keys]
    signature = load_signing_key(pem(keys[1]), None, where="k", given_in="p").sign(b"x")
    assert [k.verifies(b"x", signature) for k in loaded] == [False, True]
    with pytest.raises(InvalidInputError, match="found none"):
        load_public_keys(b"", "--public-key empty.pub")
