"""Check a published release against its source: a rebuild from its inputs, compared.

What each platform's provenance recorded, and whether an image rebuilt from those inputs
is the very same, or what differs.

The build itself is the front end's (Dagger builds; the command line compares images
someone rebuilt elsewhere). Here: reading the recorded inputs, checking the build arguments
a rebuilder gives against their recorded digests, and comparing two images down to the
files of the layers that differ. Nothing is written to any registry.
"""

import gzip
import hashlib
import io
import json
import tarfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Final

import anyio.to_thread
from pydantic import BaseModel

from metrics_api.oci.concurrency import run_all
from metrics_api.oci.errors import ResolutionError
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.release.attestations import fetch_attestations
from metrics_api.oci.release.build_args import STAMPED, recorded_build_args
from metrics_api.oci.release.normalise import GZIP_TYPES
from metrics_api.oci.release.provenance import BaseImage, definition_of
from metrics_api.oci.spec.models import Descriptor, ImageIndex, ImageManifest
from metrics_api.oci.spec.reference import Reference

# A report names this many differing files of a layer, then says how many more.
FILES_SHOWN: Final = 10
VALUE_SHOWN: Final = 80  # characters of a differing config value


@dataclass(frozen=True)
class RecordedBuild:
    """One platform's build as its published provenance records it."""

    platform: str
    image: str  # the published image digest
    folder: str = ""
    dockerfile: str = ""
    build_args: Mapping[str, str] = field(default_factory=dict)
    epoch: int | None = None
    bases: tuple[BaseImage, ...] = ()
    problem: str = ""  # why it cannot be rebuilt and compared, when it cannot


def _recorded(platform: str, image: str, definition: object) -> RecordedBuild:
    if not isinstance(definition, dict):
        return RecordedBuild(
            platform, image, problem="no SLSA provenance: the inputs of its build are unknown"
        )
    external = definition.get("externalParameters") or {}
    epoch = external.get("sourceDateEpoch")
    bases = tuple(
        BaseImage(uri=d["uri"], digest="".join(f"{k}:{v}" for k, v in d["digest"].items()))
        for d in definition.get("resolvedDependencies") or []
        if d.get("name") == "base image" and d.get("uri") and d.get("digest")
    )
    problem = ""
    if epoch is None:
        problem = (
            "released without a SOURCE_DATE_EPOCH: its images carry the times of their build, "
            "so no rebuild can match them byte for byte"
        )
    return RecordedBuild(
        platform=platform,
        image=image,
        folder=str(external.get("folder", "")),
        dockerfile=str(external.get("dockerfile", "")),
        build_args=dict(external.get("buildArgs") or {}),
        epoch=int(epoch) if isinstance(epoch, str) and epoch.isdigit() else None,
        bases=bases,
        problem=problem,
    )


async def recorded_builds(client: RegistryClient, target: Reference) -> list[RecordedBuild]:
    """Each platform image of the index ``target`` names, with what its provenance records."""
    index = await client.get_manifest(target)
    document = index.document
    if not isinstance(document, ImageIndex):
        raise ResolutionError(
            f"expected {target} to be a release's index, found an image manifest; give the "
            "release tag (REGISTRY/REPOSITORY:VERSION)"
        )
    images = [entry for entry in document.manifests if entry.is_image]

    async def one(entry_digest: str, platform: str) -> RecordedBuild:
        attestations = await fetch_attestations(client, target, index, entry_digest)
        definitions = await run_all(
            [partial(definition_of, client, target, a.manifest) for a in attestations]
        )
        found = next((d for d in definitions if d is not None), None)
        return _recorded(platform, entry_digest, found)

    return await run_all(
        [partial(one, entry.digest, str(entry.platform)) for entry in images if entry.platform]
    )


def build_arguments(
    recorded: RecordedBuild, given: Mapping[str, str]
) -> tuple[dict[str, str], list[str], list[str]]:
    """The arguments to rebuild with; the names not given; the names given wrong.

    Stamped arguments are recorded by value; any other must be given, and its SHA-256
    must be the recorded one.
    """
    arguments: dict[str, str] = {}
    missing, wrong = [], []
    for name, value in recorded.build_args.items():
        if name in STAMPED:
            arguments[name] = value
        elif name not in given:
            missing.append(name)
        elif recorded_build_args({name: given[name]})[name] != value:
            wrong.append(name)
        else:
            arguments[name] = given[name]
    return arguments, missing, wrong


def _plain(data: bytes, media_type: str) -> bytes | None:
    try:
        return gzip.decompress(data) if media_type in GZIP_TYPES else data
    except (OSError, EOFError, zlib.error):
        return None


def _files(data: bytes) -> dict[str, tuple[object, ...]]:
    found: dict[str, tuple[object, ...]] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for member in tar:
            content = tar.extractfile(member) if member.isreg() else None
            digest = hashlib.sha256(content.read()).hexdigest()[:12] if content else ""
            found[member.name] = (
                member.type,
                oct(member.mode),
                member.uid,
                member.gid,
                int(member.mtime),
                member.linkname,
                digest,
            )
    return found


def _file_differences(ours: bytes | None, theirs: bytes | None) -> list[str]:
    if ours is None or theirs is None:
        return ["its content could not be read as a tar"]
    try:
        published, rebuilt = _files(ours), _files(theirs)
    except tarfile.TarError:
        return ["its content could not be read as a tar"]
    names = sorted(published.keys() | rebuilt.keys())
    labels = ("type", "mode", "uid", "gid", "mtime", "link", "content")
    changes = []
    for name in names:
        if name not in rebuilt:
            changes.append(f"{name} only in the published image")
        elif name not in published:
            changes.append(f"{name} only in the rebuilt image")
        elif published[name] != rebuilt[name]:
            fields = [
                f"{label} {a} vs {b}"
                for label, a, b in zip(labels, published[name], rebuilt[name], strict=True)
                if a != b
            ]
            changes.append(f"{name}: {', '.join(fields)}")
    shown = changes[:FILES_SHOWN]
    if len(changes) > FILES_SHOWN:
        shown.append(f"and {len(changes) - FILES_SHOWN} more files")
    return shown


def _short(value: object) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= VALUE_SHOWN else text[: VALUE_SHOWN - 3] + "..."


def _config_differences(ours: dict[str, object], theirs: dict[str, object]) -> list[str]:
    changes = []
    for key in sorted(ours.keys() | theirs.keys()):
        a, b = ours.get(key), theirs.get(key)
        if key == "config" and isinstance(a, dict) and isinstance(b, dict):
            changes += [f"config {c}" for c in _config_differences(a, b)]
        elif a != b:
            changes.append(f"{key}: {_short(a)} vs {_short(b)}")
    return changes


class PlatformCheck(BaseModel):
    """One platform: the published image, the rebuilt one, and what differs."""

    platform: str
    published: str
    rebuilt: str = ""
    same: bool = False
    differences: list[str] = []
    problem: str = ""

    def text(self) -> str:
        """Its lines in a report."""
        if self.problem:
            return f"{self.platform}: cannot be compared: {self.problem}"
        if self.same:
            return f"{self.platform}: same digest {self.published}"
        lines = [f"{self.platform}: different: published {self.published}, rebuilt {self.rebuilt}"]
        return "\n".join(lines + [f"  {line}" for line in self.differences])


class RebuildReport(BaseModel):
    """Every platform of a published release, checked against a rebuild."""

    ok: bool
    target: str
    platforms: list[PlatformCheck]

    def text(self) -> str:
        """A readable report; the verdict first."""
        verdict = "reproduced" if self.ok else "NOT reproduced"
        return "\n".join([f"{self.target}: {verdict}", *(p.text() for p in self.platforms)])


def rebuild_report(target: str, platforms: list[PlatformCheck]) -> RebuildReport:
    """The report: ok only when every platform was compared and is the same."""
    return RebuildReport(
        ok=bool(platforms) and all(p.same and not p.problem for p in platforms),
        target=target,
        platforms=platforms,
    )


async def compare_images(
    client: RegistryClient, published: Reference, rebuilt: Reference, platform: str
) -> PlatformCheck:
    """Whether two images are the same; if not, which config fields, layers and files differ."""
    ours, theirs = await run_all(
        [partial(client.get_manifest, published), partial(client.get_manifest, rebuilt)]
    )
    check = PlatformCheck(platform=platform, published=ours.digest, rebuilt=theirs.digest)
    if ours.digest == theirs.digest:
        return check.model_copy(update={"same": True})
    a, b = ours.document, theirs.document
    if not isinstance(a, ImageManifest) or not isinstance(b, ImageManifest):
        return check.model_copy(update={"differences": ["one of them is not an image manifest"]})
    differences = []
    if a.config.digest != b.config.digest:
        configs = await run_all(
            [
                partial(client.get_blob, published, a.config.digest),
                partial(client.get_blob, rebuilt, b.config.digest),
            ]
        )
        differences += _config_differences(json.loads(configs[0]), json.loads(configs[1]))
    if len(a.layers) != len(b.layers):
        differences.append(f"{len(a.layers)} layers published, {len(b.layers)} rebuilt")
    differing = [
        (position, mine, its)
        for position, (mine, its) in enumerate(zip(a.layers, b.layers, strict=False), 1)
        if mine.digest != its.digest
    ]

    async def layer_differences(mine: Descriptor, its: Descriptor) -> list[str]:
        published_blob, rebuilt_blob = await run_all(
            [
                partial(client.get_blob, published, mine.digest),
                partial(client.get_blob, rebuilt, its.digest),
            ]
        )
        # Unpacking and hashing every file is CPU work: off the event loop.
        return await anyio.to_thread.run_sync(
            lambda: _file_differences(
                _plain(published_blob, mine.media_type), _plain(rebuilt_blob, its.media_type)
            )
        )

    # Every differing layer at once, reported in their order.
    found = await run_all([partial(layer_differences, mine, its) for _, mine, its in differing])
    for (position, mine, its), files in zip(differing, found, strict=True):
        differences.append(f"layer {position}: {mine.digest} vs {its.digest}")
        differences += [f"  {line}" for line in files or ["same files: the compression differs"]]
    if a.media_type != b.media_type or (a.annotations or {}) != (b.annotations or {}):
        differences.append("the manifests' media type or annotations differ")
    return check.model_copy(update={"differences": differences})
