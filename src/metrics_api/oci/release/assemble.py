"""Assemble one OCI image index from resolved variants, deterministically.

Entries keep the order given (a client takes the first match), carry the platform from
each image's configuration, and say which source, revision and version each variant was
built from. Same input, same bytes, same digest.
"""

import json
from collections.abc import Mapping, Sequence
from datetime import datetime

from metrics_api.oci.errors import AssemblyError, InvalidInputError, Remedy
from metrics_api.oci.release.resolve import ResolvedVariant
from metrics_api.oci.spec import media_types
from metrics_api.oci.spec.models import Descriptor, ImageIndex, Manifest, parse_manifest
from metrics_api.oci.spec.times import rfc3339


def validate_annotations(annotations: Mapping[str, str], where: str) -> None:
    """Reject empty keys and misuse of the reserved ``org.opencontainers.image.*`` keys."""
    for key, value in annotations.items():
        if not key or key != key.strip():
            raise InvalidInputError(
                f"{where}: expected a non-empty annotation key without surrounding spaces, "
                f"found {key!r}"
            )
        if key.startswith(media_types.OCI_ANNOTATION_PREFIX):
            if key not in media_types.OCI_ANNOTATION_KEYS:
                raise InvalidInputError(
                    f"{where}: {key!r} is in the reserved org.opencontainers.image namespace "
                    "but is not one of its defined keys ("
                    + ", ".join(
                        sorted(k.rsplit(".image.", 1)[1] for k in media_types.OCI_ANNOTATION_KEYS)
                    )
                    + "); use your own reverse-DNS prefix for custom keys"
                )
            if key == media_types.OCI_CREATED:
                _check_rfc3339(value, where)


def _check_rfc3339(value: str, where: str) -> None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None or "T" not in value.upper():
        raise InvalidInputError(
            f"{where}: expected {media_types.OCI_CREATED} as an RFC 3339 date-time with a "
            f"time zone (for example 2026-01-31T12:00:00Z), found {value!r}"
        )


def created_from_epoch(source_date_epoch: str) -> str:
    """``SOURCE_DATE_EPOCH`` (seconds since 1970) as an RFC 3339 UTC date-time."""
    try:
        seconds = int(source_date_epoch)
    except ValueError:
        raise InvalidInputError(
            "expected SOURCE_DATE_EPOCH to be a whole number of seconds since 1970-01-01, "
            f"found {source_date_epoch!r}; unset it or fix it"
        ) from None
    return rfc3339(seconds)


def index_annotations(given: Mapping[str, str], source_date_epoch: str | None) -> dict[str, str]:
    """The index annotations: the given ones, plus ``created`` from SOURCE_DATE_EPOCH."""
    result = dict(given)
    if source_date_epoch and media_types.OCI_CREATED not in result:
        result[media_types.OCI_CREATED] = created_from_epoch(source_date_epoch)
    validate_annotations(result, "index annotations")
    return result


def entry_annotations(variant: ResolvedVariant) -> dict[str, str]:
    """The image's own source, revision, version and title labels, as entry annotations."""
    labels = variant.config.labels
    result = {key: labels[key] for key in media_types.ENTRY_LABELS if labels.get(key)}
    validate_annotations(result, f"annotations of the {variant.declared} entry")
    return result


def build_index(
    variants: Sequence[ResolvedVariant],
    *,
    annotations: Mapping[str, str] | None = None,
) -> Manifest:
    """The OCI index bytes for ``variants``, one entry each, in the order given.

    A variant's kept attestation manifests (``ResolvedVariant.attestations``) follow its entry.
    """
    if not variants:
        raise AssemblyError(
            "expected at least one variant to assemble, found none", remedy=Remedy.VARIANTS
        )
    seen: dict[tuple[object, ...], ResolvedVariant] = {}
    for variant in variants:
        key = (*variant.platform.normalized(), variant.platform.os_version)
        if key in seen:
            raise AssemblyError(
                f"expected one variant per platform, found two for {variant.platform}: "
                f"{seen[key].source} and {variant.source}; a client would only ever pull the "
                "first, so drop one or declare the platform each was really built for"
            )
        seen[key] = variant
    entries = []
    for variant in variants:
        entry: dict[str, object] = {
            "mediaType": variant.manifest.media_type,
            "digest": variant.manifest.digest,
            "size": variant.manifest.size,
            "platform": variant.platform.to_json(),
        }
        if notes := entry_annotations(variant):
            entry["annotations"] = notes
        entries.append(entry)
        # Kept attestations follow their image, each entry exactly as the variant had it.
        entries.extend(dict(attestation.entry) for attestation in variant.attestations)
    document: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": media_types.OCI_INDEX,
        "manifests": entries,
    }
    if annotations:
        validate_annotations(annotations, "index annotations")
        document["annotations"] = dict(annotations)
    raw = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()
    return parse_manifest(raw, None, "assembled index")


def index_entries(index: Manifest) -> tuple[Descriptor, ...]:
    """The entries of an index (empty for an image manifest)."""
    return index.document.manifests if isinstance(index.document, ImageIndex) else ()
