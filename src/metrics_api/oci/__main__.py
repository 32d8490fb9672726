"""Entry point of ``python -m metrics_api.oci`` (installed as ``metrics-oci`` too)."""

from metrics_api.oci.cli import MODULE_PROG, run

run(prog=MODULE_PROG)
