"""The text users type, checked and parsed: variants, ledger lines, annotations, targets.

Every entry point parses the same way. No network code loads here, so the command line
runs these checks while its other modules load (``cli_checks``), and sends its first
reads only for input they accepted.
"""

from collections.abc import Sequence
from typing import NamedTuple

from metrics_api.oci.errors import InvalidInputError, given_as
from metrics_api.oci.spec.digest import validate_digest
from metrics_api.oci.spec.platform import Platform, parse_platform
from metrics_api.oci.spec.reference import Reference, parse_reference


class VariantRequest(NamedTuple):
    """A variant to include: the platform it is declared for and where it was pushed."""

    platform: Platform
    reference: Reference
    expected_digest: str | None = None  # from the ledger, when the caller recorded one


def _split(text: str, example: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep:
        raise InvalidInputError(f"expected {example}, found no '='")
    if not key.strip() or not value.strip():
        raise InvalidInputError(
            f"expected {example}, found nothing {'before' if not key.strip() else 'after'} '='"
        )
    return key.strip(), value.strip()


def parse_pinned(text: str, what: str) -> Reference:
    """A reference that names a manifest: with a tag or a digest (a repository alone names none)."""
    reference = parse_reference(text)
    if not reference.manifest_reference:
        raise InvalidInputError(
            f"expected {what} with a tag or a digest, found {text!r}, which names neither; "
            f"write it as {text}:TAG or {text}@sha256:..."
        )
    return reference


def parse_variant(text: str, option: str) -> VariantRequest:
    """``PLATFORM=REFERENCE``, e.g. ``linux/arm64=registry.example/metrics-api:v2.0.0-arm64``.

    ``option``: the front end's name for it, which errors name.
    """
    with given_as(option, text):
        platform, reference = _split(text, "PLATFORM=REFERENCE (linux/arm64=REPO:TAG)")
        return VariantRequest(
            platform=parse_platform(platform), reference=parse_pinned(reference, "the variant")
        )


def parse_rebuilt(texts: Sequence[str], option: str) -> list[VariantRequest]:
    """``PLATFORM=REFERENCE`` of each rebuilt image, at most one per platform."""
    rebuilt = [parse_variant(text, option) for text in texts]
    one_per_platform([request.platform for request in rebuilt], "rebuilt image", texts)
    return rebuilt


def parse_expectation(text: str, option: str) -> tuple[Platform, str]:
    """``PLATFORM=DIGEST``: one line of the digest ledger (``option`` as for ``parse_variant``)."""
    with given_as(option, text):
        platform, digest = _split(text, "PLATFORM=DIGEST (linux/arm64=sha256:...)")
        return parse_platform(platform), validate_digest(digest)


def one_per_platform(platforms: Sequence[Platform], what: str, given: Sequence[str]) -> None:
    """Refuse two of ``what`` for one platform (as a client matches platforms)."""
    for position, platform in enumerate(platforms):
        for earlier in range(position):
            if platforms[earlier].matches(platform):
                raise InvalidInputError(
                    f"expected one {what} per platform, found two for {platform}: "
                    f"{given[earlier]!r} and {given[position]!r}; drop one, or declare the "
                    "platform each was really built for"
                )


def parse_ledger(expect: Sequence[str], option: str) -> list[tuple[Platform, str]]:
    """The digest ledger: ``PLATFORM=DIGEST`` lines, at most one per platform."""
    ledger = [parse_expectation(text, option) for text in expect]
    one_per_platform([platform for platform, _ in ledger], "ledger line", expect)
    return ledger


def parse_requests(
    variants: Sequence[str], expect: Sequence[str], options: tuple[str, str]
) -> list[VariantRequest]:
    """Variants (``PLATFORM=REFERENCE``), each with its ledger line from ``PLATFORM=DIGEST``.

    Two variants for one platform are refused here, before any request: a client would
    only ever pull the first. ``options``: the front end's names for the two.
    """
    variant_option, expect_option = options
    ledger = parse_ledger(expect, expect_option)
    requests = [parse_variant(text, variant_option) for text in variants]
    one_per_platform([request.platform for request in requests], "variant", variants)
    for platform, _ in ledger:
        if not any(platform.matches(request.platform) for request in requests):
            raise InvalidInputError(
                f"expected each expectation to name the platform of a variant, found {platform} "
                f"with no variant; variants are for {', '.join(str(r.platform) for r in requests)}"
            )
    return [
        request._replace(
            expected_digest=next((d for p, d in ledger if p.matches(request.platform)), None),
        )
        for request in requests
    ]


def parse_annotation(text: str, option: str) -> tuple[str, str]:
    """``KEY=VALUE`` (the value may be empty; ``option`` as for ``parse_variant``)."""
    key, sep, value = text.partition("=")
    if not key or not sep:
        with given_as(option, text):
            raise InvalidInputError(
                f"expected KEY=VALUE, found {'nothing before' if sep else 'no'} '='"
            )
    return key, value


def parse_annotations(texts: Sequence[str], option: str) -> dict[str, str]:
    """``KEY=VALUE`` lines, the later of two equal keys winning."""
    return dict(parse_annotation(text, option) for text in texts)


def parse_target(text: str) -> Reference:
    """The release reference: a tag, never a digest (a digest cannot be moved or created)."""
    target = parse_reference(text)
    if not target.tag or target.digest:
        raise InvalidInputError(
            f"expected the target as REGISTRY/REPOSITORY:TAG, found {text!r}; the index is "
            "pushed by digest and then tagged, so name the tag to release"
        )
    return target


def parse_platform_as(text: str, option: str) -> Platform:
    """``os/architecture[/variant]`` given with ``option`` (as for ``parse_variant``)."""
    with given_as(option, text):
        return parse_platform(text)
