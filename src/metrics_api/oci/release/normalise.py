"""Make a staged image reproducible: no time in it later than SOURCE_DATE_EPOCH.

Two builds of the same source differ in their times only: the config's ``created`` and
history, and the modification time of every file a build step wrote. The engine offers
no way to clamp them (Dagger's ``dockerBuild`` ignores SOURCE_DATE_EPOCH), but every
image is in the pipeline's own registry before anything is published, so it is clamped
there, the way ``regctl image mod --time-max`` does: every ``created`` later than the
epoch set to it; in each layer the build added (the base image's layers stay as they
are, byte for byte), every entry's mtime (and PAX atime/ctime) later than the epoch set
to it, nothing else changed (order, modes, owners, xattrs, links, content); a rewritten
layer is gzipped the same way everywhere (level 6, no name, no time). A layer with
nothing later than the epoch is kept as it is, so normalising twice changes nothing.
"""

import gzip
import io
import json
import re
import tarfile
import zlib
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Final

import anyio.to_thread

from metrics_api.oci.concurrency import run_all
from metrics_api.oci.errors import InvalidInputError, ReproducibilityError
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.spec.digest import compute_digest
from metrics_api.oci.spec.models import ImageManifest, Manifest
from metrics_api.oci.spec.reference import Reference
from metrics_api.oci.spec.times import rfc3339

GZIP_LEVEL: Final = 6
GZIP_TYPES: Final = frozenset(
    {
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
    }
)
TAR_TYPES: Final = frozenset({"application/vnd.oci.image.layer.v1.tar"})
PAX_TIMES: Final = ("mtime", "atime", "ctime")
# RFC 3339 as images write it: a fraction of up to nanoseconds, Z or an offset.
_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def parse_epoch(text: str, *, now: float) -> int:
    """SOURCE_DATE_EPOCH as seconds: a non-negative integer, not later than ``now``."""
    value = text.strip()
    if not value.isdigit():
        raise InvalidInputError(
            "expected SOURCE_DATE_EPOCH to be a whole, non-negative number of seconds since "
            f"1970-01-01 (the commit time git log prints with %ct), found {text!r}"
        )
    seconds = int(value)
    if seconds > now:
        when = rfc3339(seconds)
        raise InvalidInputError(
            f"expected SOURCE_DATE_EPOCH to be a time that has passed, found {seconds} "
            f"({when}), which is in the future; give the commit time (git log prints it with %ct)"
        )
    return seconds


def _seconds(text: object) -> float | None:
    match = _TIME.match(text) if isinstance(text, str) else None
    if match is None:
        return None
    zone = "+00:00" if match[3] == "Z" else match[3]
    moment = datetime.fromisoformat(match[1] + zone)
    return moment.timestamp() + float(match[2] or 0)


def _clamp_created(config: dict[str, Any], epoch: int) -> bool:
    """Clamp ``created`` and each history entry's in place; whether any was later."""
    changed = False
    for entry in [config, *(config.get("history") or [])]:
        moment = _seconds(entry.get("created"))
        if moment is not None and moment > epoch:
            entry["created"] = rfc3339(epoch)
            changed = True
    return changed


def clamp_config(raw: bytes, epoch: int) -> bytes | None:
    """The config with ``created`` and each history entry's clamped; None if none was later."""
    config = json.loads(raw)
    return (
        json.dumps(config, separators=(",", ":")).encode()
        if _clamp_created(config, epoch)
        else None
    )


def _clamp_member(member: tarfile.TarInfo, epoch: int) -> bool:
    changed = False
    if member.mtime > epoch:
        member.mtime = epoch
        changed = True
    headers = dict(member.pax_headers)
    for key in PAX_TIMES:
        value = headers.get(key)
        if value is not None and float(value) > epoch:
            headers[key] = str(epoch)
            changed = True
    member.pax_headers = headers
    return changed


def clamp_tar(data: bytes, epoch: int) -> bytes | None:
    """The tar with every later time clamped to ``epoch``; None when nothing was later."""
    source = tarfile.open(fileobj=io.BytesIO(data), mode="r:")  # noqa: SIM115 - closed below
    target = io.BytesIO()
    changed = False
    with source, tarfile.open(fileobj=target, mode="w:", format=tarfile.PAX_FORMAT) as out:
        for member in source:
            changed |= _clamp_member(member, epoch)
            content = source.extractfile(member) if member.isreg() else None
            out.addfile(member, content)
    return target.getvalue() if changed else None


def deterministic_gzip(data: bytes) -> bytes:
    """Compress the same bytes the same way everywhere: gzip level 6, no file name, no time."""
    return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)


@dataclass(frozen=True)
class Normalised:
    """What normalising an image did: its new digest, and what it rewrote."""

    reference: str  # the image, by its new digest
    digest: str
    layers: tuple[int, ...]  # the positions of the layers rewritten
    uploaded: int  # bytes uploaded (rewritten layers, config, manifest)
    kept: int  # the leading layers left as they were: the base image's


def _layer(data: bytes, media_type: str, epoch: int, what: str) -> tuple[bytes, bytes] | None:
    """(compressed, uncompressed) of the clamped layer; None when it stays as it is."""
    if media_type in GZIP_TYPES:
        try:
            plain = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise ReproducibilityError(f"{what}: not gzip ({error}); nothing was written") from None
    elif media_type in TAR_TYPES:
        plain = data
    else:
        raise ReproducibilityError(
            f"{what}: its media type {media_type} is a compression this release cannot "
            "rewrite (gzip and plain tar can be); nothing was written"
        )
    try:
        clamped = clamp_tar(plain, epoch)
    except tarfile.TarError as error:
        raise ReproducibilityError(f"{what}: not a tar ({error}); nothing was written") from None
    if clamped is None:
        return None
    return (deterministic_gzip(clamped) if media_type in GZIP_TYPES else clamped), clamped


async def normalise_image(  # noqa: PLR0913 - the image, and what is known of it already
    client: RegistryClient,
    image: Reference,
    *,
    epoch: int,
    keep: int,
    what: str,
    manifest: Manifest | None = None,
) -> Normalised:
    """Clamp ``image`` (by digest, in the staging registry) to ``epoch``; store the result.

    ``keep``: how many leading layers are the base image's, left as they are.
    ``manifest``: the image's manifest, when the caller has read it already.
    """
    manifest = manifest or await client.get_manifest(image)
    document = manifest.document
    if not isinstance(document, ImageManifest):
        raise ReproducibilityError(f"{what}: expected an image manifest, found an index")
    added = document.layers[keep:]  # the base's layers are neither read nor rewritten
    blobs = await run_all(
        [partial(client.get_blob, image, d.digest) for d in [document.config, *added]]
    )
    config_raw = blobs[0]
    rewritten = await run_all(
        [
            partial(
                anyio.to_thread.run_sync,
                _layer,
                data,
                layer.media_type,
                epoch,
                f"{what}, layer {keep + number} ({layer.digest})",
            )
            for number, (layer, data) in enumerate(zip(added, blobs[1:], strict=True), 1)
        ]
    )
    changes = dict(zip(range(keep, len(document.layers)), rewritten, strict=True))
    config = json.loads(config_raw)
    diff_ids = list(config.get("rootfs", {}).get("diff_ids") or [])
    raw = json.loads(manifest.raw)
    uploads: list[bytes] = []
    for position, change in changes.items():
        if change is None:
            continue
        compressed, plain = change
        raw["layers"][position]["digest"] = compute_digest(compressed)
        raw["layers"][position]["size"] = len(compressed)
        diff_ids[position] = compute_digest(plain)
        uploads.append(compressed)
    layers = tuple(position for position, change in changes.items() if change is not None)
    if layers:
        config["rootfs"]["diff_ids"] = diff_ids
    if not _clamp_created(config, epoch) and not layers:
        return Normalised(str(image), manifest.digest, (), 0, keep)
    config_raw = json.dumps(config, separators=(",", ":")).encode()
    raw["config"]["digest"] = compute_digest(config_raw)
    raw["config"]["size"] = len(config_raw)
    new_manifest = json.dumps(raw, separators=(",", ":")).encode()
    digest = compute_digest(new_manifest)
    await run_all([partial(client.put_blob, image, blob) for blob in [*uploads, config_raw]])
    pinned = image.with_digest(digest)
    await client.put_manifest(pinned, new_manifest, manifest.media_type)
    uploaded = sum(len(blob) for blob in uploads) + len(config_raw) + len(new_manifest)
    return Normalised(str(pinned), digest, layers, uploaded, keep)
