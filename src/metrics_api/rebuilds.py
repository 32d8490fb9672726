"""Rebuild a published release from its source and its provenance, in the engine.

Each platform is built as its provenance records (folder, Dockerfile, build arguments,
version, revision), from the base images it recorded by digest (the Dockerfile's FROMs
pinned), into the call's own registry; then made reproducible with the recorded epoch and
compared with the published image (oci/release/rebuild.py). Nothing is written to any
registry but the call's own.
"""

from collections.abc import Mapping
from functools import partial

import dagger

from metrics_api.builds import publish_build, stage_final_base
from metrics_api.embedded import EmbeddedRegistry
from metrics_api.oci.concurrency import run_all
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.release.dockerfile import pin_bases
from metrics_api.oci.release.job import in_staging
from metrics_api.oci.release.rebuild import (
    PlatformCheck,
    RebuildReport,
    RecordedBuild,
    build_arguments,
    compare_images,
    rebuild_report,
    recorded_builds,
)
from metrics_api.oci.release.reproducible import make_reproducible
from metrics_api.oci.spec.platform import parse_platform
from metrics_api.oci.spec.reference import Reference, parse_reference


async def _rebuild_one(  # noqa: PLR0913 - one platform and where it builds
    client: RegistryClient,
    source: dagger.Directory,
    target: Reference,
    record: RecordedBuild,
    *,
    given: Mapping[str, str],
    embedded: EmbeddedRegistry,
) -> PlatformCheck:
    check = PlatformCheck(platform=record.platform, published=record.image)
    arguments, missing, wrong = build_arguments(record, given)
    problems = [record.problem] if record.problem else []
    problems += [
        f"the build argument {name} is recorded only as its SHA-256: give its value "
        f"(--build-args {name}=VALUE)"
        for name in missing
    ]
    problems += [
        f"the value in --build-args for {name} is not the one built with" for name in wrong
    ]
    if problems or record.epoch is None:
        return check.model_copy(update={"problem": "; ".join(problems)})
    folder = source if record.folder in {"", "."} else source.directory(record.folder)
    written = await folder.file(record.dockerfile).contents()
    pins = {base.uri: base.digest for base in record.bases}
    dockerfile = pin_bases(written, arguments, pins, platform=record.platform)
    platform = dagger.Platform(record.platform)
    built = folder.with_new_file(record.dockerfile, dockerfile).docker_build(
        platform=platform,
        dockerfile=record.dockerfile,
        build_args=[dagger.BuildArg(name=name, value=value) for name, value in arguments.items()],
    )
    staging = embedded.staging
    address = (
        f"{staging.push_host}/{staging.repository}:rebuild-{record.platform.replace('/', '-')}"
    )
    what = f"{record.platform} ({record.folder}, {record.dockerfile})"
    staged = in_staging(
        staging, address, await publish_build(built, address, embedded.service, what)
    )
    pinned = await stage_final_base(
        dockerfile, arguments, record.platform, f"{address}-base", embedded.service
    )
    base = in_staging(staging, f"{address}-base", pinned) if pinned is not None else None
    normalised = await make_reproducible(
        client,
        record.epoch,
        staged=staged,
        base=base,
        platform=parse_platform(record.platform),
        what=f"the rebuilt {record.platform} image",
    )
    return await compare_images(
        client,
        target.with_digest(record.image),
        parse_reference(normalised.reference),
        record.platform,
    )


async def rebuild_release(
    client: RegistryClient,
    source: dagger.Directory,
    target: str,
    given: Mapping[str, str],
    embedded: EmbeddedRegistry,
) -> RebuildReport:
    """Rebuild every platform of ``target`` from ``source`` and compare it with the published."""
    reference = parse_reference(target)
    recorded = await recorded_builds(client, reference)
    checks = await run_all(
        [
            partial(
                _rebuild_one,
                client,
                source,
                reference,
                record,
                given=given,
                embedded=embedded,
            )
            for record in recorded
        ]
    )
    return rebuild_report(target, checks)
