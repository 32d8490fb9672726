"""Whether the API's answer is the one expected, checked before anything reads its content.

Each call of ``client`` expects some statuses, and a failed one is worded with advice for
the usual causes. A manifest is checked byte for byte (JSON at all, then its digests)
before it is parsed: a proxy's login page or a registry's wrong answer stops here, worded
for what it is, not as a parse error further on.
"""

import json

import httpx

from metrics_api.oci.errors import InvalidInputError, RegistryError
from metrics_api.oci.registry.responses import BodyTooLargeError, describe, shown_url
from metrics_api.oci.spec.digest import check_digest
from metrics_api.oci.spec.models import Manifest, parse_manifest
from metrics_api.oci.spec.reference import Reference


def expect(response: httpx.Response, statuses: set[int], what: str, missing_hint: str = "") -> None:
    """Raise unless ``response`` has one of ``statuses``, with advice for the usual ones."""
    if response.status_code in statuses:
        return
    request = response.request
    advice = "check the reference and the registry's logs"
    if response.status_code == httpx.codes.NOT_FOUND:
        advice = missing_hint or "check that the repository and content exist"
    elif response.status_code == httpx.codes.FORBIDDEN:
        advice = "the credentials lack permission for this repository"
    raise RegistryError(
        f"{what}: {request.method} {shown_url(request.url)} answered {describe(response)}; {advice}"
    )


def too_large(refused: BodyTooLargeError, what: str) -> RegistryError:
    """The transport refused a body over the limit unread; only here is it known a manifest."""
    request = refused.response.request
    return RegistryError(
        f"{what}: {request.method} {shown_url(request.url)} {refused.found}; expected a "
        f"manifest of at most {refused.limit} bytes (4 MiB, the most a registry stores), so "
        "it was refused: check that the reference names an image or an index, and which "
        f"server answers for {request.url.netloc.decode()}"
    )


def checked_manifest(response: httpx.Response, ref: Reference, what: str) -> Manifest:
    """The manifest a 200 answer holds, once its bytes are JSON and match every digest."""
    raw = response.content
    if not _is_json(raw):  # before the digest checks: this is no registry's answer at all
        raise RegistryError(
            f"{what}: GET {shown_url(response.request.url)} answered {response.status_code} with "
            f"Content-Type {response.headers.get('Content-Type') or 'none'} and a body that "
            f"is not JSON; expected a manifest: the server at {ref.host} is not speaking "
            "the registry API (a proxy or a login page?): check the registry's address and "
            "what stands between it and this machine"
        )
    if ref.digest:
        check_digest(raw, ref.digest, what)
    announced = response.headers.get("Docker-Content-Digest")
    if announced:
        check_digest(raw, announced, f"{what} (Docker-Content-Digest)")
    try:
        manifest = parse_manifest(raw, response.headers.get("Content-Type"), what)
    except InvalidInputError as error:  # the registry's content, not the user's input
        raise RegistryError(f"{error}; check what {ref} holds") from None
    return manifest if not ref.digest else _with_digest(manifest, ref.digest)


def _is_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return False
    return True


def _with_digest(manifest: Manifest, digest: str) -> Manifest:
    """Keep the digest the content was asked for by (it may use sha512)."""
    return manifest if manifest.digest == digest else manifest._replace(digest=digest)
