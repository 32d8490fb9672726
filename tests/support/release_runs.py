"""The core's release job run as the tests run it: buildah stages, two real registries."""

import anyio

from metrics_api.oci import Settings
from metrics_api.oci.release.job import (
    DEFAULT_VARIANTS,
    Attach,
    Provenance,
    Sbom,
    Staging,
    parse_variant_table,
    release,
)
from metrics_api.oci.release.release_reports import ReleaseReport
from metrics_api.oci.signing.keyless_store import KeylessSigning
from metrics_api.oci.signing.store import Signer

from .registry import Registry
from .stager import BuildahStager


def run_release(  # noqa: PLR0913 - the options the tests vary
    staging: Registry,
    target: Registry,
    stage: BuildahStager,
    *,
    version: str,
    force: bool = False,
    dry_run: bool = False,
    provenance: Provenance | None = None,
    sbom: Sbom | None = None,
    signer: Signer | None = None,
    keyless: KeylessSigning | None = None,
    source_date_epoch: str | None = None,
    push_host: str = "",
) -> ReleaseReport:
    """Release the default variants as ``metrics-api:VERSION`` in ``target``."""

    async def job() -> ReleaseReport:
        return await release(
            parse_variant_table(DEFAULT_VARIANTS, "--variants"),
            stage,
            staging=Staging(push_host=push_host or staging.host, host=staging.host),
            registry=target.host,
            repository="metrics-api",
            version=version,
            settings=Settings(use_docker_config=False),
            source_date_epoch=source_date_epoch,
            force=force,
            dry_run=dry_run,
            attach=Attach(provenance=provenance, sbom=sbom),
            signer=signer,
            keyless=keyless,
        )

    return anyio.run(job)
