"""The token server's signing key, its self-signed certificate, and JWTs signed with it.

Distribution verifies a registry token (a JWT) against the certificates in its
``rootcertbundle``: the token's ``x5c`` header carries the signing certificate, which must
chain to one of them. So the key is an ECDSA P-256 key made once per test session, its
certificate is self-signed (it is its own root), and tokens are ES256 with that ``x5c``.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

if TYPE_CHECKING:
    from collections.abc import Mapping

_P256_BYTES = 32


def b64url(data: bytes) -> str:
    """Base64url without padding, as JWS encodes every part."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """The inverse of ``b64url``."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """A fresh key and certificate; ``sign()`` makes ES256 JWTs the registry accepts."""

    def __init__(self, issuer: str) -> None:
        """Make the key and a certificate for ``issuer`` valid from an hour ago for a day."""
        self.issuer = issuer
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)])
        now = datetime.now(UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )

    def certificate_pem(self) -> bytes:
        """The certificate as PEM: the registry's ``rootcertbundle``."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def sign(self, claims: Mapping[str, Any]) -> str:
        """A compact JWS of ``claims``: ES256, the certificate in ``x5c``."""
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        header = {"typ": "JWT", "alg": "ES256", "x5c": [base64.b64encode(der).decode()]}
        signing_input = ".".join(
            b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        r, s = decode_dss_signature(
            self._key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        )
        signature = r.to_bytes(_P256_BYTES, "big") + s.to_bytes(_P256_BYTES, "big")
        return f"{signing_input}.{b64url(signature)}"


def token_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified (tests read what was granted)."""
    claims: dict[str, Any] = json.loads(b64url_decode(token.split(".")[1]))
    return claims
