"""Content digests: always computed over the exact bytes, never over re-serialised JSON."""

import hashlib
import re
from typing import Final

from metrics_api.oci.errors import DigestMismatchError, InvalidInputError

# image-spec descriptor.md: algorithm ":" encoded; we accept the two registered algorithms.
_DIGEST: Final = re.compile(r"^(?P<algorithm>sha256|sha512):(?P<encoded>[a-f0-9]+)$")
_LENGTHS: Final = {"sha256": 64, "sha512": 128}


def validate_digest(value: str) -> str:
    """Return the digest unchanged, or explain what a digest looks like."""
    match = _DIGEST.fullmatch(value)
    if match is None or len(match["encoded"]) != _LENGTHS[match["algorithm"]]:
        raise InvalidInputError(
            f"expected a digest like 'sha256:<64 lowercase hex characters>', found {value!r}; "
            "copy the digest from the registry or from `skopeo inspect`"
        )
    return value


def compute_digest(data: bytes, algorithm: str = "sha256") -> str:
    """Return the digest of ``data`` with the given registered algorithm."""
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def check_digest(data: bytes, expected: str, what: str) -> None:
    """Raise when ``data`` does not hash to ``expected`` (the algorithm is the digest's own)."""
    algorithm = validate_digest(expected).split(":", 1)[0]
    actual = compute_digest(data, algorithm)
    if actual != expected:
        raise DigestMismatchError(
            f"{what}: expected content with digest {expected}, but the bytes received hash to "
            f"{actual}; the registry or something between us and it altered the content: "
            "do not trust this registry response, and retry once the path is fixed"
        )


def digest_as_tag(digest: str) -> str:
    """``sha256-HEX``: the digest spelled as a tag may be (a tag holds no ``:``)."""
    algorithm, _, hexdigits = digest.partition(":")
    return f"{algorithm}-{hexdigits}"
