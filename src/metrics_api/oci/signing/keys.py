"""Signing and public keys: cosign's encrypted key pair, or plain PEM EC P-256 keys.

cosign signs with ECDSA P-256 over SHA-256 and writes its private key encrypted
(``ENCRYPTED SIGSTORE PRIVATE KEY``: a JSON document whose scrypt parameters and salt
derive the NaCl secretbox key that opens a PKCS#8 key). Key bytes and passwords never
enter an error message: each error says which file and what kind of problem.
"""

import base64
import hashlib
import json
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from metrics_api.oci.errors import InvalidInputError

COSIGN_PEM_TYPES = ("ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY")
# scrypt's memory is 128 * N * r bytes: cosign's N = 2**15..2**16, r = 8, so 32-64 MiB.
SCRYPT_MAX_MEMORY = 256 * 1024 * 1024
KEY_FORMATS = (
    "a cosign private key (`cosign generate-key-pair`) or a PEM EC P-256 private key "
    "(PKCS#8 or SEC 1)"
)


def _pem_body(text: str, label: str) -> bytes | None:
    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    start = text.find(begin)
    stop = text.find(end, start)
    if start < 0 or stop < 0:
        return None
    return base64.b64decode("".join(text[start + len(begin) : stop].split()))


def _open_cosign_key(document: bytes, password: bytes, where: str, given_in: str) -> bytes:
    """The PKCS#8 DER inside a cosign encrypted key, or InvalidInputError."""
    from nacl.exceptions import CryptoError  # noqa: PLC0415 - only cosign keys need NaCl
    from nacl.secret import SecretBox  # noqa: PLC0415

    try:
        sealed = json.loads(document)
        kdf, cipher = sealed["kdf"], sealed["cipher"]
        params = kdf["params"] if kdf["name"] == "scrypt" else {}
        nonce = base64.b64decode(cipher["nonce"]) if cipher["name"] == "nacl/secretbox" else b""
        secret = hashlib.scrypt(
            password,
            salt=base64.b64decode(kdf["salt"]),
            n=int(params["N"]),
            r=int(params["r"]),
            p=int(params["p"]),
            maxmem=SCRYPT_MAX_MEMORY,
            dklen=32,
        )
        ciphertext = base64.b64decode(sealed["ciphertext"])
    except (ValueError, KeyError, TypeError):
        raise InvalidInputError(
            f"expected {where} to be a cosign private key (scrypt and nacl/secretbox), found "
            "a damaged or unknown encryption; make the key again with `cosign generate-key-pair`"
        ) from None
    try:
        return SecretBox(secret).decrypt(ciphertext, nonce)
    except CryptoError:
        raise InvalidInputError(
            f"expected the password of the cosign private key {where}, found "
            f"{'one that does not open it' if password else 'no password'}; give the password "
            f"the key was made with in {given_in}"
        ) from None


@dataclass(frozen=True)
class PublicKey:
    """An ECDSA P-256 public key, named by the SHA-256 of its DER form."""

    key: ec.EllipticCurvePublicKey
    source: str = field(default="", compare=False)  # the file it came from, for messages

    @property
    def key_id(self) -> str:
        """``sha256:`` and the first 12 hex digits of the key's DER encoding: short, stable."""
        der = self.key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return "sha256:" + hashlib.sha256(der).hexdigest()[:12]

    @property
    def pem(self) -> bytes:
        """The key as ``cosign.pub`` holds it."""
        return self.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def verifies(self, data: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (ASN.1 DER) is this key's signature of ``data``."""
        try:
            self.key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class SigningKey:
    """A private ECDSA P-256 key that signs as ``cosign sign --key`` does."""

    key: ec.EllipticCurvePrivateKey = field(repr=False)

    @property
    def public(self) -> PublicKey:
        """Its public half, which verifies what it signs."""
        return PublicKey(self.key.public_key())

    def sign(self, data: bytes) -> bytes:
        """ECDSA over SHA-256 of ``data``, ASN.1 DER (a new signature every call)."""
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))


def _require_p256(key: object, where: str, kind: str) -> None:
    curve = getattr(key, "curve", None)
    if not isinstance(curve, ec.SECP256R1):
        found = f"an EC key on {curve.name}" if curve is not None else "another kind of key"
        raise InvalidInputError(
            f"expected {where} to be an ECDSA P-256 {kind} key (what cosign makes), found "
            f"{found}; make one with `cosign generate-key-pair`"
        )


def load_signing_key(data: bytes, password: str | None, *, where: str, given_in: str) -> SigningKey:
    """Read a cosign or PEM private key, checked before any request.

    ``where`` names the key and ``given_in`` where its password comes from, in
    errors; neither the key's bytes nor the password ever appear in one.
    """
    text = data.decode("ascii", errors="replace")
    secret = (password or "").encode()
    sealed = next(
        (body for label in COSIGN_PEM_TYPES if (body := _pem_body(text, label)) is not None),
        None,
    )
    try:
        if sealed is not None:
            opened = _open_cosign_key(sealed, secret, where, given_in)
            key = serialization.load_der_private_key(opened, None)
        elif secret and b"ENCRYPTED" not in data:  # a password set for CI's other keys
            key = serialization.load_pem_private_key(data, None)
        else:
            key = serialization.load_pem_private_key(data, secret or None)
    except TypeError:
        raise InvalidInputError(
            f"expected the password of the encrypted key {where}, found none; give it in {given_in}"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidInputError(
            f"expected {where} to be {KEY_FORMATS}, found something else (or a wrong "
            f"password in {given_in} for an encrypted PEM key); check the file and "
            "its password"
        ) from None
    _require_p256(key, where, "private")
    assert isinstance(key, ec.EllipticCurvePrivateKey)  # noqa: S101 - checked above
    return SigningKey(key)


def load_public_keys(data: bytes, where: str) -> list[PublicKey]:
    """Every PEM public key in ``data`` (cosign.pub holds one); at least one."""
    text = data.decode("ascii", errors="replace")
    keys = []
    rest = text
    while (start := rest.find("-----BEGIN PUBLIC KEY-----")) >= 0:
        end = rest.find("-----END PUBLIC KEY-----", start)
        if end < 0:
            break
        block = rest[start : end + len("-----END PUBLIC KEY-----")]
        rest = rest[end:]
        try:
            key = serialization.load_pem_public_key(block.encode())
        except (ValueError, UnsupportedAlgorithm):
            raise InvalidInputError(
                f"expected {where} to hold PEM public keys, found a damaged one; give the "
                "cosign.pub of the signing key"
            ) from None
        _require_p256(key, where, "public")
        assert isinstance(key, ec.EllipticCurvePublicKey)  # noqa: S101 - checked above
        keys.append(PublicKey(key, where))
    if not keys:
        raise InvalidInputError(
            f"expected {where} to hold a PEM public key (-----BEGIN PUBLIC KEY-----, what "
            "cosign.pub holds), found none; give the public half of the signing key"
        )
    return keys
