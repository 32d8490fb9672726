"""Does each platform of an index carry its provenance? One check per image entry.

An image entry has its provenance when exactly one attestation entry of the index refers to
it and holds an SLSA statement (v1, or v0.2 from older BuildKit) whose subject is that very
image. Unless it is required, a platform without provenance is reported, not failed: most
indexes in the wild have none.
"""

from functools import partial

from metrics_api.oci.checks import Check
from metrics_api.oci.concurrency import run_all
from metrics_api.oci.errors import OciError
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.release.attestations import reference_digest
from metrics_api.oci.release.statements import (
    SLSA_PREDICATES,
    check_each_image,
    statements_in,
    subjects_of,
)
from metrics_api.oci.spec.models import Descriptor, ImageIndex
from metrics_api.oci.spec.reference import Reference


async def _check_image(  # noqa: PLR0913 - one check, its context passed in
    client: RegistryClient,
    ref: Reference,
    image: Descriptor,
    attestations: list[Descriptor],
    *,
    required: bool,
    just_pushed: bool,
) -> Check:
    name = f"provenance {image.platform}"
    about = [entry for entry in attestations if reference_digest(entry) == image.digest]
    try:
        found = await run_all(
            [
                partial(statements_in, client, ref, e, SLSA_PREDICATES, just_pushed=just_pushed)
                for e in about
            ]
        )
    except OciError as error:
        return Check(name=name, ok=False, detail=str(error))
    carrying = [
        (entry, statements) for entry, statements in zip(about, found, strict=True) if statements
    ]
    if not carrying:
        detail = (
            "none (not required)"
            if not required
            else (f"expected one SLSA provenance attestation about {image.digest}, found none")
        )
        return Check(name=name, ok=not required, detail=detail)
    if len(carrying) > 1:
        listed = ", ".join(entry.digest for entry, _ in carrying)
        detail = f"expected one SLSA provenance attestation about {image.digest}, found {listed}"
        return Check(name=name, ok=False, detail=detail)
    entry, statements = carrying[0]
    wrong = [predicate for predicate, body in statements if image.digest not in subjects_of(body)]
    if wrong:
        detail = (
            f"{entry.digest} is listed for {image.digest}, but its {', '.join(wrong)} "
            "statement's subjects do not name it"
        )
        return Check(name=name, ok=False, detail=detail)
    predicates = ", ".join(predicate for predicate, _ in statements)
    return Check(name=name, ok=True, detail=f"{entry.digest}: {predicates} about {image.digest}")


async def check_provenance(
    client: RegistryClient,
    ref: Reference,
    index: ImageIndex,
    *,
    required: bool,
    just_pushed: bool = False,
) -> list[Check]:
    """One ``provenance PLATFORM`` check per image (none without attestations unless required)."""
    check = partial(_check_image, required=required, just_pushed=just_pushed)
    return await check_each_image(check, client, ref, index, required=required) or []
