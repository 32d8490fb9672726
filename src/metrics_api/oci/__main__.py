"""Entry point of ``python -m metrics_api.oci``."""

import gc
import sys

from metrics_api.oci.cli import main

code = main()
# The interpreter's shutdown runs garbage collections over every object still alive, the
# modules a job loaded included: about 50 ms of CPU for a process that is ending anyway.
# Frozen objects are exempt; everything that must happen at exit (closing the client,
# flushing stdout) has happened or does not depend on a collection.
gc.freeze()
sys.exit(code)
