"""Entry point of ``python -m metrics_api.oci``."""

import sys

from metrics_api.oci.cli import main

sys.exit(main())
