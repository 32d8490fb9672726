"""Entry point of ``python -m metrics_api.oci`` (installed as ``metrics-oci`` too)."""

from metrics_api.oci.interrupts import INTERRUPTS

INTERRUPTS.install()  # before the job's modules load: a signal meanwhile counts

from metrics_api.oci.cli import MODULE_PROG, run  # noqa: E402 - after the handler, on purpose

run(prog=MODULE_PROG)
