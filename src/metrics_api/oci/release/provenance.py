"""SLSA provenance v1 for each variant this module builds, and recognising it on a re-run.

A statement (in-toto Statement v1) says which image manifest it is about and how that
image was made: what the caller chose, what the engine resolved, who built it and when.
It is a layer of the attestation manifest staged beside its image
(release/attestation_manifests.py). docs/provenance.md says what every field means.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Final
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from metrics_api.oci.concurrency import run_all
from metrics_api.oci.errors import InvalidInputError, ResolutionError
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.release.attestations import IN_TOTO, PREDICATE_TYPE, fetch_attestations
from metrics_api.oci.release.build_args import public_source, recorded_build_args
from metrics_api.oci.release.normalise import GZIP_LEVEL
from metrics_api.oci.release.resolve import ResolvedVariant, resolve_variant, select_image
from metrics_api.oci.release.statements import SLSA_V1
from metrics_api.oci.spec.models import ImageIndex, ImageManifest, Manifest
from metrics_api.oci.spec.platform import Platform
from metrics_api.oci.spec.reference import Reference

STATEMENT_V1: Final = "https://in-toto.io/Statement/v1"
BUILD_TYPE: Final = "urn:metrics-api:buildtype:dagger-variant:v1"
BUILDER_ID: Final = "urn:metrics-api:builder:dagger-module"


class BaseImage(BaseModel):
    """A ``FROM`` image as the engine resolved it for the variant's platform."""

    model_config = ConfigDict(frozen=True)

    uri: str  # the reference as written, after build-argument substitution
    digest: str  # sha256:... of what the engine pulled


class BuildFacts(BaseModel):
    """What one variant's build was and ran on: the Dagger layer fills it, tests by hand."""

    model_config = ConfigDict(frozen=True)

    platform: str
    folder: str
    dockerfile: str
    version: str
    revision: str = ""
    source_url: str = ""
    build_args: dict[str, str] = {}
    engine_version: str
    module_version: str
    source_digest: str  # the source folder's content digest, as the engine gives it
    base_images: list[BaseImage] = []
    # The image that scanned the variant for its SBOM, when it has one.
    sbom_scanner: BaseImage | None = None
    started_on: datetime
    finished_on: datetime
    invocation_id: str
    # --source-date-epoch: the epoch the image was clamped to, and how many of its leading
    # layers were the base image's, kept as they were (normalise.py).
    source_date_epoch: int | None = None
    base_layers_kept: int = 0


def _digest_set(digest: str, what: str) -> dict[str, str]:
    """``algorithm:value`` as an in-toto DigestSet (``{"sha256": "..."}``)."""
    algorithm, sep, value = digest.partition(":")
    if not sep or not algorithm or not value:
        raise InvalidInputError(f"expected {what} as ALGORITHM:VALUE, found {digest!r}")
    return {algorithm: value}


def _time(moment: datetime) -> str:
    """RFC 3339 in UTC, as SLSA asks (a naive time is taken as UTC)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_definition(facts: BuildFacts) -> dict[str, object]:
    """The part of the statement that says what was built and from what (no times, no ids)."""
    source = {"name": "source folder", "digest": _digest_set(facts.source_digest, "source digest")}
    if facts.source_url:
        source["uri"] = public_source(facts.source_url)
    bases = [
        {
            "name": "base image",
            "uri": base.uri,
            "digest": _digest_set(base.digest, f"the digest of {base.uri}"),
            "annotations": {"platform": facts.platform},
        }
        for base in facts.base_images
    ]
    if facts.sbom_scanner is not None:
        scanner = facts.sbom_scanner
        bases.append(
            {
                "name": "sbom scanner",
                "uri": scanner.uri,
                "digest": _digest_set(scanner.digest, f"the digest of {scanner.uri}"),
            }
        )
    return {
        "buildType": BUILD_TYPE,
        "externalParameters": {
            "platform": facts.platform,
            "folder": facts.folder,
            "dockerfile": facts.dockerfile,
            "version": facts.version,
            "revision": facts.revision,
            "source": public_source(facts.source_url),
            "buildArgs": recorded_build_args(facts.build_args),
            **_epoch(facts),
        },
        "internalParameters": {
            "engineVersion": facts.engine_version,
            "moduleVersion": facts.module_version,
            **_normalisation(facts),
        },
        "resolvedDependencies": [source, *bases],
    }


def _epoch(facts: BuildFacts) -> dict[str, str]:
    if facts.source_date_epoch is None:
        return {}
    return {"sourceDateEpoch": str(facts.source_date_epoch)}


def _normalisation(facts: BuildFacts) -> dict[str, object]:
    """How the image was made reproducible, so that a rebuild can do the same."""
    if facts.source_date_epoch is None:
        return {}
    return {
        "normalisation": {
            "clamp": "config created, history created, and layer entries' mtime, atime and "
            "ctime later than sourceDateEpoch, set to it",
            "baseLayersKept": facts.base_layers_kept,
            "gzip": f"level {GZIP_LEVEL}, no name, no time",
        }
    }


def canonical(document: object) -> bytes:
    """Sorted keys, no spaces: equal documents, equal bytes."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def statement(image_digest: str, subject_name: str, facts: BuildFacts) -> bytes:
    """The in-toto Statement v1 (SLSA provenance v1) about one image manifest."""
    return canonical(
        {
            "_type": STATEMENT_V1,
            "subject": [
                {"name": subject_name, "digest": _digest_set(image_digest, "image digest")}
            ],
            "predicateType": SLSA_V1,
            "predicate": {
                "buildDefinition": build_definition(facts),
                "runDetails": {
                    "builder": {"id": BUILDER_ID},
                    "metadata": {
                        "invocationId": facts.invocation_id,
                        "startedOn": _time(facts.started_on),
                        "finishedOn": _time(facts.finished_on),
                    },
                },
            },
        }
    )


def subject_name(target: Reference, tag: str, platform: Platform) -> str:
    """``pkg:docker/REGISTRY/REPO@TAG?platform=linux%2Famd64``, as BuildKit names subjects."""
    wanted = "/".join(p for p in (platform.os, platform.architecture, platform.variant) if p)
    return f"pkg:docker/{target.repository_name}@{tag}?platform={quote(wanted, safe='')}"


# -- recognising one's own statement on a re-run ------------------------------------------


async def definition_of(
    client: RegistryClient, where: Reference, attestation: Manifest
) -> object | None:
    """The ``buildDefinition`` of an attestation's SLSA statement, or None when it has none."""
    document = attestation.document
    if not isinstance(document, ImageManifest):
        return None
    for layer in document.layers:
        if layer.media_type != IN_TOTO or (layer.annotations or {}).get(PREDICATE_TYPE) != SLSA_V1:
            continue
        try:
            body = json.loads(await client.get_blob(where, layer.digest))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None
        predicate = body.get("predicate") if isinstance(body, dict) else None
        return predicate.get("buildDefinition") if isinstance(predicate, dict) else None
    return None


async def published_index(client: RegistryClient, tag: Reference) -> Manifest | None:
    """What a tag the job writes holds now, when it is an index that may carry attestations."""
    if await client.head_manifest(tag) is None:
        return None
    found = await client.get_manifest(tag)
    return found if isinstance(found.document, ImageIndex) else None


def _digest_text(digest: object) -> str:
    """An in-toto DigestSet as ``algorithm:value`` (several joined by commas)."""
    if not isinstance(digest, dict) or not digest:
        return "no digest"
    return ", ".join(f"{algorithm}:{value}" for algorithm, value in sorted(digest.items()))


def _dependencies(definition: Mapping[str, object]) -> dict[tuple[str, str], object]:
    """A definition's resolved dependencies by name and URI, each with its digest."""
    found = definition.get("resolvedDependencies")
    return {
        (str(d.get("name", "")), str(d.get("uri", ""))): d.get("digest")
        for d in (found if isinstance(found, list) else [])
        if isinstance(d, dict)
    }


def _parameters(definition: Mapping[str, object], key: str) -> dict[str, object]:
    found = definition.get(key)
    return dict(found) if isinstance(found, dict) else {}


def input_changes(
    platform: str, published: Mapping[str, object], new: Mapping[str, object]
) -> list[str]:
    """What differs between the published build's ``buildDefinition`` and a new one, in words.

    A refusal that names the moved base image or the changed source says why a re-run is
    a new build, where two index digests alone say nothing.
    """
    changes = []
    if published.get("buildType") != new.get("buildType"):
        changes.append(
            f"the build type changed from {published.get('buildType')!r} to "
            f"{new.get('buildType')!r}"
        )
    theirs, ours = _dependencies(published), _dependencies(new)
    for (name, uri), digest in ours.items():
        what = f"the {name} {uri}".rstrip() if name != "source folder" else "the source folder"
        if (name, uri) not in theirs:
            changes.append(f"{what} is new ({_digest_text(digest)})")
        elif theirs[name, uri] != digest:
            before, after = _digest_text(theirs[name, uri]), _digest_text(digest)
            changes.append(
                f"the source folder changed ({before} → {after})"
                if name == "source folder"
                else f"{what} moved from {before} to {after}"
            )
    changes.extend(
        f"the {name} {uri}".rstrip() + " is no longer used"
        for name, uri in theirs
        if (name, uri) not in ours
    )
    for key, label in (("externalParameters", "parameter"), ("internalParameters", "setting")):
        before_values, after_values = _parameters(published, key), _parameters(new, key)
        for name in sorted(before_values.keys() | after_values.keys()):
            old, new_value = before_values.get(name), after_values.get(name)
            if old != new_value:
                changes.append(
                    f"the {label} {name} changed from {json.dumps(old)} to {json.dumps(new_value)}"
                )
    return [f"{platform}: {change}" for change in changes]


@dataclass(frozen=True)
class Reuse:
    """A variant as the release will write it, and how it stands to what is published."""

    variant: ResolvedVariant
    # The target's image and attestation were kept: a new build of the very same inputs.
    same_inputs: bool = False
    # How this build's inputs differ from the published build's (empty: unknown or none).
    changes: tuple[str, ...] = ()


async def reuse_published(
    client: RegistryClient,
    target: Reference,
    published: Manifest | None,
    variant: ResolvedVariant,
    facts: BuildFacts,
) -> Reuse:
    """The variant, or the target's own image and attestation when they say this very build.

    A statement carries the times and the invocation id of its run, and an uncached build
    carries new timestamps in its image, so two runs of one build rarely make equal bytes.
    When ``published`` (what the tag holds now) has, for the variant's platform, an image
    whose SLSA attestation's ``buildDefinition`` equals this run's: for the same image, that
    attestation is kept (entry and bytes); for another image, the published image and its
    attestations are kept, resolved from the target. Either way a re-run of the same inputs
    plans exactly what is published. Otherwise the differences are worded for a refusal.
    """
    document = published.document if published is not None else None
    if published is None or not isinstance(document, ImageIndex) or not variant.attestations:
        return Reuse(variant)
    try:
        entry = select_image(document, variant.declared, str(target))
    except ResolutionError:
        return Reuse(variant)  # nothing published for this platform: nothing to compare
    wanted = json.loads(canonical(build_definition(facts)))
    theirs = await fetch_attestations(client, target, published, entry.digest)
    definitions = await run_all(
        [partial(definition_of, client, target, c.manifest) for c in theirs]
    )
    for candidate, definition in zip(theirs, definitions, strict=True):
        if definition != wanted:
            continue
        if entry.digest == variant.manifest.digest:
            return Reuse(variant._replace(attestations=(candidate,)))
        kept = await resolve_variant(
            client, target.with_digest(published.digest), variant.declared, attestations=True
        )
        return Reuse(kept, same_inputs=True)
    found = next((d for d in definitions if isinstance(d, dict)), None)
    changes = input_changes(str(variant.declared), found, wanted) if found is not None else []
    return Reuse(variant, changes=tuple(changes))
