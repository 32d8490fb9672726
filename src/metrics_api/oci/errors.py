"""One error hierarchy for the engine-free core.

Every message says what was expected, what was found and what is needed, in the domain's
words: the core has several front ends (the command line, the Dagger functions) and each
names its own flags. An error that a setting can cure carries a ``Remedy``; the front end
turns it into one sentence naming its flags (``Hints``).
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from enum import Enum
from typing import NamedTuple


class Remedy(Enum):
    """A setting of the front end that cures an error."""

    PLAIN_HTTP = "the registry must be reached over plain HTTP"
    TRUST = "the authority that issued the registry's certificate must be trusted"
    CREDENTIALS = "credentials for the registry are needed"
    FORCE = "moving the release tag must be allowed"
    DEADLINE = "the job needs more time"
    LEDGER = "the digests recorded at push time are needed"
    VARIANTS = "the variants to assemble are needed"
    IDENTITY = "the signer's identity and its token's issuer are needed"


class OciError(Exception):
    """Base of every error the core raises on purpose."""

    def __init__(self, message: str, *, remedy: Remedy | None = None, host: str = "") -> None:
        """``host`` is the registry the remedy applies to, when it applies to one."""
        super().__init__(message)
        self.remedy = remedy
        self.host = host


def with_note(error: OciError, note: str) -> OciError:
    """The same error, saying what had been written before it: reports tell what is there."""
    return type(error)(f"{error}; {note}", remedy=error.remedy, host=error.host)


class Hints(NamedTuple):
    """A front end's words for each remedy (``{host}`` is the registry it applies to).

    ``other_credentials`` is for credentials of a registry that the front end's username
    and password do not reach (they are only ever sent to one registry of a call).
    """

    remedies: Mapping[Remedy, str]
    other_credentials: str

    def render(self, error: OciError, login_host: str = "") -> str:
        """The error's message and, when it has a remedy, the hint that helps its host.

        ``login_host``: the registry the call's username and password would be sent to.
        """
        if error.remedy is None:
            return str(error)
        hint = self.remedies[error.remedy]
        if error.remedy is Remedy.CREDENTIALS and error.host != login_host:
            hint = self.other_credentials
        return f"{error}; {hint.format(host=error.host or 'REGISTRY')}"


class InvalidInputError(OciError):
    """A reference, platform, digest, annotation or option was malformed."""


class RegistryError(OciError):
    """A registry request failed for good (after the bounded retries)."""


class AuthenticationError(RegistryError):
    """The registry refused our credentials, or wanted some and we had none."""


class DigestMismatchError(OciError):
    """Content did not hash to the digest it was fetched or announced by."""


class ResolutionError(OciError):
    """A variant reference did not lead to exactly one image for its declared platform."""


class AssemblyError(OciError):
    """The variants cannot form one index (for example two variants for one platform)."""


class TagConflictError(OciError):
    """The release tag already points at another index and moving it was not allowed."""


class SbomError(OciError):
    """A variant's SBOM could not be made into a statement (the scanner's output, its size)."""


class VerificationError(OciError):
    """The published index does not match the digest ledger."""


class SigningError(OciError):
    """Keyless signing failed: no identity token, or Sigstore refused or did not answer."""


class ReproducibilityError(OciError):
    """A staged image could not be made reproducible (a layer that is not a tar, say)."""


@contextmanager
def given_as(option: str, text: str) -> Iterator[None]:
    """Input errors about ``text`` name the option it came with (the front end's name).

    The user typed both, so both are what they look for on their command line.
    """
    try:
        yield
    except InvalidInputError as error:
        raise InvalidInputError(
            f"{option} {text!r}: {error}", remedy=error.remedy, host=error.host
        ) from None
