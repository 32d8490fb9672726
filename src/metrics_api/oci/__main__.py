"""Entry point of ``python -m metrics_api.oci`` (installed as ``metrics-oci`` too)."""

import sys

from metrics_api.oci.cli import MODULE_PROG, main

sys.exit(main(prog=MODULE_PROG))
