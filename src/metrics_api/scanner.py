"""The SBOM scanner, run by the engine against the root filesystem of a variant it built.

The scanner image (syft's, or a mirror's copy) runs with the variant's root filesystem
mounted read-only, offline, with the catalogers BuildKit's scanner selects; the core turns
what it writes into the variant's SBOM statement (oci/release/sbom.py).
"""

from collections.abc import Callable
from typing import Final

import dagger

from metrics_api.oci.release.job import Sbom, VariantPlan
from metrics_api.oci.release.provenance import BaseImage
from metrics_api.oci.release.sbom import Scan
from metrics_api.oci.spec.reference import Reference
from metrics_api.pipeline_errors import PipelineError

DEFAULT_SCANNER: Final = "docker.io/anchore/syft:v1.57.2"
SCANNER_BINARY: Final = "/syft"  # where the official image (and its stand-ins) keep it
# No update check on start: the scan reaches no network.
SCANNER_ENVIRONMENT: Final = {"SYFT_CHECK_FOR_APP_UPDATE": "false"}
ROOTFS = "/scan/rootfs"
OUTPUT = "/tmp/metrics-api.spdx.json"  # noqa: S108 - inside the scanner's own container
WAY_OUT = (
    f"pass --sbom-scanner with an image the engine can pull and run (a mirror's copy of "
    f"{DEFAULT_SCANNER}), or --sbom=false to release without SBOMs"
)


def scanner_arguments(rootfs: str, name: str, version: str, output: str) -> list[str]:
    """Syft's command line for a root filesystem at ``rootfs``, as BuildKit's scanner runs it.

    BuildKit's scanner takes the image and file catalogers plus the SBOM cataloger (a
    document shipped inside the image), and scans the folder with links resolved inside
    it; ``name`` and ``version`` name the document's subject.
    """
    return [
        "scan",
        f"dir:{rootfs}",
        "--base-path",
        rootfs,
        "--source-name",
        name,
        "--source-version",
        version,
        "--override-default-catalogers",
        "image,file",
        "--select-catalogers",
        "+sbom-cataloger",
        "--output",
        f"spdx-json={output}",
        "--quiet",
    ]


async def _pinned(image: dagger.Container, scanner: str) -> BaseImage:
    """The scanner as the engine resolved it: its reference and the digest pulled."""
    pinned = await image.image_ref()
    _, sep, digest = pinned.rpartition("@")
    if not sep:
        msg = (
            f"expected the engine to pin the SBOM scanner {scanner} as REF@DIGEST, found {pinned!r}"
        )
        raise PipelineError(msg)
    return BaseImage(uri=scanner, digest=digest)


def sbom_scanner(  # noqa: PLR0913 - what one scan needs, named
    engine: dagger.Client,
    scanner: str,
    built: dict[VariantPlan, dagger.Container],
    *,
    name: str,
    version: str,
    described: Callable[[VariantPlan], str],
) -> Sbom:
    """The core's ``Sbom``: scan the container each variant's stager built.

    ``built``: each variant's container, filled by its stager; ``name`` and ``version``
    name the document's subject; ``described``: a variant as the user named it.
    """

    async def scan(plan: VariantPlan, _staged: Reference) -> Scan:
        variant = described(plan)
        image = engine.container().from_(scanner)
        command = [SCANNER_BINARY, *scanner_arguments(ROOTFS, name, version, OUTPUT)]
        run = image.with_mounted_directory(ROOTFS, built[plan].rootfs(), read_only=True)
        for key, value in SCANNER_ENVIRONMENT.items():
            run = run.with_env_variable(key, value)
        try:
            pinned = await _pinned(image, scanner)
            document = await run.with_exec(command).file(OUTPUT).contents()
        except dagger.ExecError as error:
            output = error.stderr.strip()[-2000:]
            msg = (
                f"scanning {variant} for its SBOM failed: the scanner {scanner} exited "
                f"{error.exit_code}" + (f": {output}" if output else "") + f"; {WAY_OUT}"
            )
            raise PipelineError(msg) from error
        except dagger.QueryError as error:
            msg = f"scanning {variant} for its SBOM with {scanner} failed: {error}; {WAY_OUT}"
            raise PipelineError(msg) from error
        return Scan(document.encode(), pinned)

    return scan
