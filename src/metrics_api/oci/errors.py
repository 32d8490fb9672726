"""One error hierarchy for the engine-free core.

Every message says what was expected, what was found and what to do next, because the
reader is a platform engineer looking at a red CI job.
"""


class OciError(Exception):
    """Base of every error the core raises on purpose."""


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


class VerificationError(OciError):
    """The published index does not match the digest ledger."""
