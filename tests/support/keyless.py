"""Keyless signing as the tests drive it: the local Sigstore's tokens, cosign by identity."""

import subprocess
from dataclasses import dataclass

from metrics_api.oci.signing.identity_tokens import GivenToken, TokenReader
from metrics_api.oci.signing.keyless import SigstoreTrust
from metrics_api.oci.signing.keyless_store import KeylessSigning

from .cosign import Cosign
from .sigstore_stack import SigstoreStack

# Every address but the stack's goes to a proxy that is not there: nothing leaves the machine.
DEAD_PROXY = "http://127.0.0.1:9"


@dataclass
class IssuedTokens:
    """A token reader that asks the test issuer for a fresh token on every read, counting them."""

    stack: SigstoreStack
    repository: str | None = None
    reads: int = 0

    async def __call__(self) -> str:
        self.reads += 1
        return self.stack.issuer.issue_token(repository=self.repository)


def trust_of(stack: SigstoreStack) -> SigstoreTrust:
    """The stack's ClientTrustConfig, as a release reads it."""
    return SigstoreTrust(stack.trust_config_path.read_text(), "the test Sigstore's trust config")


def keyless(stack: SigstoreStack, reader: TokenReader | None = None) -> KeylessSigning:
    """Keyless signing with the stack, tokens from ``reader`` (default: fresh from the issuer)."""
    source = reader if reader is not None else IssuedTokens(stack)
    return KeylessSigning(trust_of(stack), GivenToken("the test issuer", source))


def offline_env(stack: SigstoreStack) -> dict[str, str]:
    """cosign's environment: no proxy but a dead one, no TUF root to fetch."""
    return {
        "HTTPS_PROXY": DEAD_PROXY,
        "HTTP_PROXY": DEAD_PROXY,
        "NO_PROXY": f"{stack.host},localhost",
        "TUF_ROOT": "/nonexistent-tuf-root",
    }


def identity_flags(stack: SigstoreStack, identity: str | None = None) -> list[str]:
    """``--certificate-identity/--certificate-oidc-issuer/--trusted-root``, cosign's spelling."""
    return [
        f"--certificate-identity={identity or stack.certificate_identity}",
        f"--certificate-oidc-issuer={stack.certificate_oidc_issuer}",
        f"--trusted-root={stack.trusted_root_path}",
        "--allow-http-registry",
    ]


def cosign_verify(  # noqa: PLR0913 - one cosign call and what it checks
    tool: Cosign,
    generation: str,
    stack: SigstoreStack,
    ref: str,
    *,
    kind: str = "",
    identity: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``cosign verify`` (or ``verify-attestation --type KIND``) by identity; v2 as it needs.

    v2.6.5 reads bundles with ``--new-bundle-format`` and counts the TSA's timestamp only
    with ``--use-signed-timestamps`` (a Rekor v2 entry has no integrated time).
    """
    command = ["verify-attestation", f"--type={kind}"] if kind else ["verify"]
    extra = ["--new-bundle-format", "--use-signed-timestamps"] if generation == "v2" else []
    return tool.run(*command, *identity_flags(stack, identity), *extra, ref, env=offline_env(stack))
