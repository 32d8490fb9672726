"""Keyless signing with Sigstore: a Fulcio certificate for the CI's identity, Rekor, a timestamp.

sigstore-python does the protocol (``SigningContext`` from a ``ClientTrustConfig``): this
module chooses the Sigstore, opens a signer with a token read right before signing, signs
in-toto statements as DSSE into Sigstore bundles (v0.3), and checks a bundle against an
identity. sigstore is imported only here, and only when keyless signing or verifying is
asked for: it is the heaviest import of the project.

Every bundle this signs is verified before it is returned, against the same trusted root
and the certificate's own identity: a Sigstore that skipped the timestamp or logged
something else fails the release before anything is written.
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import anyio.to_thread

from metrics_api.oci.errors import InvalidInputError, Remedy, SigningError
from metrics_api.oci.signing.identity_tokens import TokenSource, fresh_token

if TYPE_CHECKING:
    from cryptography.x509 import Certificate
    from sigstore.models import ClientTrustConfig, TrustedRoot
    from sigstore.sign import Signer

PUBLIC_GOOD: Final = "the public-good Sigstore (sigstore.dev)"
CLIENT_TRUST_CONFIG: Final = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
TRUSTED_ROOT: Final = "application/vnd.dev.sigstore.trustedroot"
# Fulcio's extensions naming the token's issuer: v2 (DER UTF8String), and v1 (raw text).
ISSUER_V2: Final = "1.3.6.1.4.1.57264.1.8"
ISSUER_V1: Final = "1.3.6.1.4.1.57264.1.1"


@dataclass(frozen=True)
class SigstoreTrust:
    """Which Sigstore: the public-good instance, or one a ClientTrustConfig file describes.

    For verifying, a bare trusted root (what ``cosign trusted-root create`` writes) will do.
    """

    document: str | None = field(default=None, repr=False)  # None: the public-good instance
    where: str = PUBLIC_GOOD

    def _media_type(self) -> str:
        try:
            parsed = json.loads(self.document or "")
        except ValueError:
            parsed = None
        media_type = parsed.get("mediaType") if isinstance(parsed, dict) else None
        if not isinstance(media_type, str) or not media_type.startswith(
            (CLIENT_TRUST_CONFIG, TRUSTED_ROOT)
        ):
            raise InvalidInputError(
                f"expected {self.where} to be a Sigstore ClientTrustConfig or trusted root "
                f"(JSON, mediaType {CLIENT_TRUST_CONFIG} or {TRUSTED_ROOT}...), found "
                f"{'another document' if parsed is not None else 'something that is not JSON'}; "
                "give the file your Sigstore's operators publish"
            )
        return media_type

    def check(self, *, signing: bool) -> None:
        """Refuse, before any request, a document that cannot serve (read whole).

        Signing needs a ClientTrustConfig; verifying takes a trusted root too.
        """
        if self.document is None:
            return
        if signing:
            self._require_client_config()
        try:
            self.trusted_root()
        except SigningError as error:  # the file given, not Sigstore: bad input
            raise InvalidInputError(str(error)) from None

    def _require_client_config(self) -> None:
        """Refuse a trusted root where signing needs a ClientTrustConfig, saying why."""
        if self.document is not None and not self._media_type().startswith(CLIENT_TRUST_CONFIG):
            raise InvalidInputError(
                f"expected {self.where} to be a ClientTrustConfig (it names the Fulcio, "
                "Rekor and timestamp authority to sign with), found a trusted root, which "
                "only verifies; give the ClientTrustConfig of your Sigstore"
            )

    def client_config(self) -> "ClientTrustConfig":
        """The trust config sigstore-python signs with (the public good: fetched over TUF)."""
        from sigstore.errors import Error  # noqa: PLC0415 - sigstore only when asked for
        from sigstore.models import ClientTrustConfig  # noqa: PLC0415

        self._require_client_config()
        try:
            if self.document is None:
                return ClientTrustConfig.production()
            return ClientTrustConfig.from_json(self.document)
        except (Error, ValueError) as error:
            raise SigningError(
                f"expected {self.where} to be a usable Sigstore trust config, found "
                f"{_reason(error)}; check the file (or the network, for the public good)"
            ) from None

    def trusted_root(self) -> "TrustedRoot":
        """The roots bundles are verified against."""
        from sigstore.errors import Error  # noqa: PLC0415 - sigstore only when asked for
        from sigstore.models import TrustedRoot  # noqa: PLC0415

        if self.document is None or self._media_type().startswith(CLIENT_TRUST_CONFIG):
            return self.client_config().trusted_root
        try:
            return _trusted_root_of(self.document, TrustedRoot)
        except (Error, ValueError) as error:
            raise SigningError(
                f"expected {self.where} to be a usable Sigstore trusted root, found "
                f"{_reason(error)}; check the file"
            ) from None


def _trusted_root_of(document: str, reader: "type[TrustedRoot]") -> "TrustedRoot":
    """Read a bare trusted root: sigstore reads one from a path only (a file made and gone)."""
    import tempfile  # noqa: PLC0415 - the bare trusted root path only
    from pathlib import Path  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "trusted_root.json"
        path.write_text(document)
        return reader.from_file(str(path))


def _failures() -> tuple[type[BaseException], ...]:
    """What sigstore's clients raise when a Sigstore service refuses or does not answer."""
    from requests import RequestException  # noqa: PLC0415 - sigstore's HTTP client
    from sigstore._internal.fulcio.client import (  # noqa: PLC0415
        ExpiredCertificate,
        FulcioClientError,
    )
    from sigstore._internal.rekor import RekorClientError  # noqa: PLC0415
    from sigstore._internal.timestamp import TimestampError  # noqa: PLC0415
    from sigstore.errors import Error  # noqa: PLC0415
    from sigstore.oidc import ExpiredIdentity  # noqa: PLC0415

    return (
        Error,
        ExpiredIdentity,
        ExpiredCertificate,
        FulcioClientError,
        RekorClientError,
        TimestampError,
        RequestException,
        ValueError,
        OSError,
    )


def _reason(error: BaseException) -> str:
    """An exception in a few words, without what it quotes (a token, a key)."""
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text[:160]}" if text else type(error).__name__


def certificate_identity(certificate: "Certificate") -> tuple[str, str]:
    """The identity (the first SAN: URI, email or Sigstore other name) and its issuer."""
    from cryptography import x509  # noqa: PLC0415
    from cryptography.x509.oid import ObjectIdentifier  # noqa: PLC0415

    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        names = x509.SubjectAlternativeName([])
    values = [
        *names.get_values_for_type(x509.UniformResourceIdentifier),
        *names.get_values_for_type(x509.RFC822Name),
        *(
            other.value.decode(errors="replace")
            for other in names.get_values_for_type(x509.OtherName)
        ),
    ]
    issuer = ""
    for oid, skip in ((ISSUER_V2, 2), (ISSUER_V1, 0)):
        try:
            extension = certificate.extensions.get_extension_for_oid(ObjectIdentifier(oid))
        except x509.ExtensionNotFound:
            continue
        raw = extension.value
        data = raw.value if isinstance(raw, x509.UnrecognizedExtension) else b""
        issuer = data[skip:].decode(errors="replace")
        break
    return (values[0] if values else "", issuer)


@dataclass(frozen=True)
class IdentityPolicy:
    """Whom a bundle must come from: an identity (or a pattern of them) and its issuer.

    The pattern is searched, as cosign's ``--certificate-identity-regexp`` is: anchor it
    with ``^...$`` to match whole identities only.
    """

    issuer: str
    identity: str = ""
    identity_pattern: str = ""

    def __post_init__(self) -> None:
        """A policy names exactly one identity form, and a valid pattern."""
        if self.identity and self.identity_pattern:
            raise InvalidInputError(
                "expected one certificate identity, exact or a pattern, found both; give only one"
            )
        if not (self.identity or self.identity_pattern):
            raise InvalidInputError(
                "expected one certificate identity, exact or a pattern, found neither",
                remedy=Remedy.IDENTITY,
            )
        if not self.issuer:
            raise InvalidInputError(
                "expected the issuer of the signer's token with the certificate identity "
                "(GitHub Actions: https://token.actions.githubusercontent.com), found none",
                remedy=Remedy.IDENTITY,
            )
        if self.identity_pattern:
            try:
                re.compile(self.identity_pattern)
            except re.error as error:
                raise InvalidInputError(
                    "expected the certificate identity pattern to be a regular expression, "
                    f"found {self.identity_pattern!r} ({error}); correct the pattern"
                ) from None

    @property
    def text(self) -> str:
        """How reports name it."""
        who = self.identity or f"an identity matching {self.identity_pattern}"
        return f"{who} (issuer {self.issuer})"

    def admits(self, identity: str, issuer: str) -> bool:
        """Whether a certificate with this identity and issuer is one this policy wants."""
        if issuer != self.issuer:
            return False
        if self.identity:
            return identity == self.identity
        return re.search(self.identity_pattern, identity) is not None


@dataclass(frozen=True)
class BundleCheck:
    """What a stored bundle turned out to be: by whom, and what it signed (None: invalid)."""

    identity: str
    issuer: str
    statement: bytes | None
    problem: str = ""


class _CertificatePolicy:
    """sigstore's policy seam, answered by an ``IdentityPolicy`` on the certificate's names."""

    def __init__(self, policy: IdentityPolicy) -> None:
        self.policy = policy

    def verify(self, cert: "Certificate") -> None:
        from sigstore.errors import VerificationError  # noqa: PLC0415

        identity, issuer = certificate_identity(cert)
        if not self.policy.admits(identity, issuer):
            raise VerificationError(f"signed by {identity} (issuer {issuer})")


def check_bundle(data: bytes, root: "TrustedRoot", policy: IdentityPolicy | None) -> BundleCheck:
    """Verify a stored bundle: chain, log inclusion, timestamp, signature, and ``policy``.

    Without ``policy``, any identity the chain vouches for; the result says which.
    """
    from sigstore.errors import Error  # noqa: PLC0415 - sigstore only when asked for
    from sigstore.models import Bundle  # noqa: PLC0415
    from sigstore.verify import Verifier  # noqa: PLC0415
    from sigstore.verify.policy import UnsafeNoOp  # noqa: PLC0415

    try:
        bundle = Bundle.from_json(data)
    except (Error, ValueError) as error:
        return BundleCheck("", "", None, f"not a Sigstore bundle ({_reason(error)})")
    identity, issuer = certificate_identity(bundle.signing_certificate)
    chosen = _CertificatePolicy(policy) if policy else UnsafeNoOp()
    try:
        payload_type, payload = Verifier(trusted_root=root).verify_dsse(bundle, chosen)
    except (Error, ValueError) as error:
        return BundleCheck(identity, issuer, None, _reason(error))
    if payload_type != "application/vnd.in-toto+json":
        return BundleCheck(
            identity, issuer, None, f"signs {payload_type}, not an in-toto statement"
        )
    return BundleCheck(identity, issuer, payload)


@dataclass
class KeylessSigner:
    """A signer holding a Fulcio certificate for one identity, for one release's writes."""

    identity: str
    issuer: str
    root: "TrustedRoot" = field(repr=False)  # what its bundles, and those found, verify against
    sign_statement: Callable[[bytes], bytes] = field(repr=False)

    async def sign(self, statement: bytes) -> bytes:
        """A Sigstore bundle (v0.3, JSON) of ``statement`` signed as DSSE, logged, timestamped."""
        return await anyio.to_thread.run_sync(self.sign_statement, statement)


def _open(trust: SigstoreTrust, token: str, where: str) -> KeylessSigner:
    from sigstore.oidc import IdentityToken  # noqa: PLC0415 - sigstore only when asked for
    from sigstore.sign import Signer, SigningContext  # noqa: PLC0415

    config = trust.client_config()
    try:  # a Signer asks Fulcio for its certificate when made
        opened = Signer(IdentityToken(token), SigningContext.from_trust_config(config))
    except _failures() as error:
        raise SigningError(
            f"expected {trust.where} to issue a signing certificate for the token from "
            f"{where}, found {_reason(error)}; check that Fulcio answers and trusts the issuer"
        ) from None
    certificate = opened._signing_cert()  # noqa: SLF001 - the certificate it just obtained
    identity, issuer = certificate_identity(certificate)
    root = config.trusted_root
    policy = IdentityPolicy(issuer=issuer, identity=identity)
    return KeylessSigner(
        identity, issuer, root, lambda statement: _sign(opened, root, policy, statement)
    )


def _sign(signer: "Signer", root: "TrustedRoot", policy: IdentityPolicy, statement: bytes) -> bytes:
    from sigstore import dsse  # noqa: PLC0415 - sigstore only when asked for

    try:
        bundle = signer.sign_dsse(dsse.Statement(statement)).to_json().encode()
    except _failures() as error:
        raise SigningError(
            f"expected Sigstore to log and timestamp a signature, found {_reason(error)}; "
            "check that its Rekor and timestamp authority answer; nothing was written"
        ) from None
    checked = check_bundle(bundle, root, policy)
    if checked.statement != statement:
        raise SigningError(
            "expected the bundle Sigstore returned to verify, found "
            f"{checked.problem or 'another statement'}; "
            "check the Sigstore's trust config (its timestamp authority and log keys); "
            "nothing was written"
        )
    return bundle


async def open_signer(trust: SigstoreTrust, tokens: TokenSource) -> KeylessSigner:
    """Read a token now and buy a certificate with it: the identity the release signs as."""
    token, _ = await fresh_token(tokens)
    return await anyio.to_thread.run_sync(_open, trust, token, tokens.what)
