"""Entry point of ``python -m metrics_api.oci`` (installed as ``metrics-oci`` too)."""

from metrics_api.oci.interrupts import INTERRUPTS

INTERRUPTS.install()  # before the job's modules load: a signal meanwhile counts

from metrics_api.oci.cli import run  # noqa: E402 - after the handler, on purpose
from metrics_api.oci.cli_parser import MODULE_PROG  # noqa: E402

run(prog=MODULE_PROG)
