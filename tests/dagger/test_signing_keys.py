"""The signing and public keys of the Dagger functions, read from Secrets and Files."""

from typing import cast

import anyio
import dagger
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from support.cosign import KeyPair, cosign

from metrics_api.oci.signing.keys import SigningKey
from metrics_api.pipeline_errors import PipelineError, core_errors
from metrics_api.signatures import open_signing_key, public_keys

pytestmark = pytest.mark.dagger

PASSWORD = "pa55-signing-key"  # noqa: S105 - a test key's password


class _Secret:
    def __init__(self, value: str) -> None:
        self.value = value

    async def plaintext(self) -> str:
        return self.value


class _File:
    def __init__(self, text: str) -> None:
        self.text = text

    async def contents(self) -> str:
        return self.text


def secret(value: str) -> dagger.Secret:
    return cast("dagger.Secret", _Secret(value))


@pytest.fixture(scope="module")
def key_pair(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return cosign("v2", tmp_path_factory.mktemp("cosign")).generate_key_pair("ci", PASSWORD)


def opened(key: dagger.Secret | None, password: dagger.Secret | None) -> SigningKey | None:
    async def job() -> SigningKey | None:
        with core_errors():
            return await open_signing_key(key, password)

    return anyio.run(job)


def test_a_cosign_key_opens_with_its_password_and_matches_its_public_key(
    key_pair: KeyPair,
) -> None:
    signer = opened(secret(key_pair.private.read_text()), secret(PASSWORD))
    (public,) = anyio.run(public_keys, [cast("dagger.File", _File(key_pair.public.read_text()))])

    assert signer is not None
    assert public.verifies(b"payload", signer.sign(b"payload"))
    assert opened(None, None) is None


def test_a_wrong_password_names_the_flag_and_never_the_secrets(key_pair: KeyPair) -> None:
    with pytest.raises(PipelineError) as refused:
        opened(secret(key_pair.private.read_text()), secret("not-it-9876"))

    assert str(refused.value) == (
        "expected the password of the cosign private key --signing-key, found one that does "
        "not open it; give the password the key was made with in --signing-key-password"
    )
    assert "not-it-9876" not in str(refused.value)

    with pytest.raises(PipelineError) as missing:
        opened(secret(key_pair.private.read_text()), None)
    assert str(missing.value).endswith(
        "found no password; give the password the key was made with in --signing-key-password"
    )


def test_a_password_without_a_key_is_refused() -> None:
    with pytest.raises(PipelineError, match="found only the password; pass --signing-key"):
        opened(None, secret(PASSWORD))


def test_a_key_of_another_curve_is_refused_naming_it() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(PipelineError) as refused:
        opened(secret(p384.decode()), None)
    assert str(refused.value) == (
        "expected --signing-key to be an ECDSA P-256 private key (what cosign makes), found an "
        "EC key on secp384r1; make one with `cosign generate-key-pair`"
    )


def test_several_public_key_files_each_name_themselves(key_pair: KeyPair) -> None:
    files = [
        cast("dagger.File", _File(key_pair.public.read_text())),
        cast("dagger.File", _File("not a key")),
    ]

    async def job() -> None:
        with core_errors():
            await public_keys(files)

    with pytest.raises(PipelineError) as refused:
        anyio.run(job)
    assert str(refused.value).startswith(
        "expected --public-key (file 2) to hold a PEM public key (-----BEGIN PUBLIC KEY-----"
    )
    both = anyio.run(public_keys, [files[0], files[0]])
    assert [key.key_id for key in both] == [both[0].key_id] * 2
