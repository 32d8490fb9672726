"""An SPDX SBOM for each variant a release builds, stored as BuildKit stores it.

The front end runs the scanner (syft) against the variant's root filesystem, with the
catalogers BuildKit's own scanner selects and no network (scanner.py). Its SPDX 2.3
document has two fields that change on every run, a random ``documentNamespace`` and the
current time; both are set here from the image itself, so the same image always gives
the same bytes and a re-run writes nothing. The document becomes an in-toto Statement v1
(predicate type ``https://spdx.dev/Document``) about the image manifest: the first layer of
the attestation manifest that also holds the provenance, as BuildKit orders them.
docs/sbom.md says what is in it and how to read it.
"""

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from metrics_api.oci.errors import SbomError
from metrics_api.oci.release.provenance import STATEMENT_V1, BaseImage, canonical
from metrics_api.oci.release.statements import SPDX_DOCUMENT, SPDX_VERSION

# BuildKit (v0.32+) refuses a scanner's statement over 40 MiB (exporter/attestation/make.go).
STATEMENT_SIZE_LIMIT: Final = 40 << 20
_TRAILING_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_NAMESPACE_ROOT = uuid.UUID("4a3b4c1e-2f6d-5b8a-9c0e-7d1f2e3a4b5c")  # this module's, fixed


@dataclass(frozen=True)
class Scan:
    """What the scanner wrote for one variant, and the scanner image as the engine pinned it."""

    document: bytes
    scanner: BaseImage


def _namespace(found: object, image_digest: str) -> str:
    """Syft's namespace with its random UUID replaced by one derived from the image digest."""
    derived = str(uuid.uuid5(_NAMESPACE_ROOT, image_digest))
    if not isinstance(found, str) or not found:
        return f"urn:uuid:{derived}"
    if _TRAILING_UUID.search(found):
        return _TRAILING_UUID.sub(derived, found)
    return f"{found.rstrip('/')}/{derived}"


def document_time(created: str | None) -> str:
    """The document's time: the image's own ``created``, else the Unix epoch (RFC 3339)."""
    if created:
        try:
            moment = datetime.fromisoformat(created)
        except ValueError:
            moment = None
        if moment is not None:
            aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return "1970-01-01T00:00:00Z"


def normalised_document(
    scan: Scan, image_digest: str, created: str | None, variant: str
) -> dict[str, object]:
    """The scanner's document, its namespace and time made the image's, the scanner named.

    ``created``: the image configuration's ``created``; ``variant`` names the platform in
    errors.
    """
    try:
        document = json.loads(scan.document)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SbomError(
            f"{variant}: expected the SBOM scanner {scan.scanner.uri} to write SPDX JSON, "
            f"found {len(scan.document)} bytes that are not JSON ({error})"
        ) from None
    version = document.get("spdxVersion") if isinstance(document, dict) else None
    if version != SPDX_VERSION:
        raise SbomError(
            f"{variant}: expected the SBOM scanner {scan.scanner.uri} to write an "
            f"{SPDX_VERSION} document, found spdxVersion {version!r}"
        )
    document["documentNamespace"] = _namespace(document.get("documentNamespace"), image_digest)
    info = document.get("creationInfo")
    info = dict(info) if isinstance(info, Mapping) else {}
    creators = [c for c in info.get("creators", []) if isinstance(c, str)]
    pinned = f"Tool: {scan.scanner.uri}@{scan.scanner.digest}"
    info["creators"] = [*creators, pinned] if pinned not in creators else creators
    info["created"] = document_time(created)
    document["creationInfo"] = info
    return dict(document)


def sbom_statement(image_digest: str, subject_name: str, document: Mapping[str, object]) -> bytes:
    """The in-toto Statement v1 of an SPDX document about one image manifest."""
    algorithm, _, value = image_digest.partition(":")
    statement = canonical(
        {
            "_type": STATEMENT_V1,
            "subject": [{"name": subject_name, "digest": {algorithm: value}}],
            "predicateType": SPDX_DOCUMENT,
            "predicate": document,
        }
    )
    if len(statement) > STATEMENT_SIZE_LIMIT:
        raise SbomError(
            f"{subject_name}: expected an SBOM statement of at most {STATEMENT_SIZE_LIMIT} bytes "
            f"(BuildKit's limit), found {len(statement)}; leave the SBOM out (its flag set to "
            "false) or scan a smaller image"
        )
    return statement
