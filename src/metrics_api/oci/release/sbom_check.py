"""Does each platform of an index carry its SBOM? One check per image entry.

An image entry has its SBOM when exactly one SPDX statement among the attestations the
index lists for it names that very image and its predicate reads as an SPDX 2.3 document.
Required, the SBOM must also list packages besides the one it describes (the scanned
image itself), and a platform without one fails; otherwise that is reported, not failed.
"""

import json
from functools import partial
from typing import NamedTuple

from metrics_api.oci.checks import Check
from metrics_api.oci.concurrency import run_all
from metrics_api.oci.errors import OciError
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.release.attestations import reference_digest
from metrics_api.oci.release.statements import (
    SPDX_DOCUMENT,
    SPDX_VERSION,
    check_each_image,
    statements_in,
    subjects_of,
)
from metrics_api.oci.spec.models import Descriptor, ImageIndex
from metrics_api.oci.spec.reference import Reference

REQUIRED_FIELDS = ("SPDXID", "dataLicense", "name", "documentNamespace", "creationInfo")


class SbomChecks(NamedTuple):
    """The checks, and the images that carry an SBOM (whose signature a key check wants)."""

    checks: list[Check]
    carrying: frozenset[str]


def _described(document: dict[str, object]) -> set[str]:
    """What the document describes: ``documentDescribes``, or its DESCRIBES relationships."""
    described = document.get("documentDescribes")
    roots = {str(e) for e in described} if isinstance(described, list) else set()
    relationships = document.get("relationships")
    roots.update(
        str(r.get("relatedSpdxElement"))
        for r in (relationships if isinstance(relationships, list) else [])
        if isinstance(r, dict)
        and r.get("spdxElementId") == "SPDXRef-DOCUMENT"
        and r.get("relationshipType") == "DESCRIBES"
    )
    return roots


def document_problems(document: object) -> tuple[list[str], int]:
    """What keeps ``document`` from being an SPDX 2.3 SBOM, and how many packages it lists.

    Packages the document describes (the scanned image or folder) are not counted.
    """
    if not isinstance(document, dict):
        return ["its predicate is not a JSON object"], 0
    problems = []
    if document.get("spdxVersion") != SPDX_VERSION:
        problems.append(f"spdxVersion is {document.get('spdxVersion')!r}, not {SPDX_VERSION}")
    problems.extend(f"it has no {field}" for field in REQUIRED_FIELDS if not document.get(field))
    info = document.get("creationInfo")
    if isinstance(info, dict) and not (info.get("created") and info.get("creators")):
        problems.append("its creationInfo lacks created or creators")
    roots = _described(document)
    packages = document.get("packages")
    listed = [
        p
        for p in (packages if isinstance(packages, list) else [])
        if isinstance(p, dict) and p.get("name") and p.get("SPDXID") not in roots
    ]
    return problems, len(listed)


def _verdict(image: Descriptor, body: bytes, *, required: bool) -> tuple[bool, str]:
    """Whether an SPDX statement found for ``image`` is about it and readable."""
    try:
        statement = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False, f"the SPDX statement about {image.digest} is not JSON"
    if not isinstance(statement, dict):
        return False, f"the SPDX statement about {image.digest} is not a JSON object"
    if image.digest not in subjects_of(body):
        return False, f"the SPDX statement listed for {image.digest} does not name it a subject"
    problems, count = document_problems(statement.get("predicate"))
    if required and not problems and not count:
        problems.append("it lists no package besides what it describes")
    if problems:
        return False, f"the SPDX document about {image.digest}: " + "; ".join(problems)
    return True, f"{SPDX_VERSION}, {count} packages, about {image.digest}"


async def _check_image(  # noqa: PLR0913 - one check, its context passed in
    client: RegistryClient,
    ref: Reference,
    image: Descriptor,
    attestations: list[Descriptor],
    *,
    required: bool,
    just_pushed: bool,
) -> tuple[Check, str]:
    """The image's check, and its digest when it carries an SBOM (empty when not)."""
    name = f"sbom {image.platform}"
    about = [entry for entry in attestations if reference_digest(entry) == image.digest]
    try:
        found = await run_all(
            [
                partial(statements_in, client, ref, e, (SPDX_DOCUMENT,), just_pushed=just_pushed)
                for e in about
            ]
        )
    except OciError as error:
        return Check(name=name, ok=False, detail=str(error)), ""
    statements = [body for bodies in found for _, body in bodies]
    if not statements:
        detail = (
            f"expected an SPDX SBOM attestation about {image.digest}, found none"
            if required
            else "none (not required)"
        )
        return Check(name=name, ok=not required, detail=detail), ""
    if required and len(statements) > 1:
        detail = f"expected one SPDX SBOM about {image.digest}, found {len(statements)}"
        return Check(name=name, ok=False, detail=detail), image.digest
    # Unrequired, several are reported (BuildKit adds one per extra scanned stage).
    verdicts = [_verdict(image, body, required=required) for body in statements]
    ok = all(good for good, _ in verdicts)
    detail = "; ".join(text for good, text in verdicts if good is ok)
    return Check(name=name, ok=ok, detail=detail), image.digest


async def check_sbom(
    client: RegistryClient,
    ref: Reference,
    index: ImageIndex,
    *,
    required: bool,
    just_pushed: bool = False,
) -> SbomChecks:
    """One ``sbom PLATFORM`` check per image entry (none without attestations unless required)."""
    check = partial(_check_image, required=required, just_pushed=just_pushed)
    results = await check_each_image(check, client, ref, index, required=required) or []
    carrying = [image for _, image in results if image]
    return SbomChecks([check for check, _ in results], frozenset(carrying))
