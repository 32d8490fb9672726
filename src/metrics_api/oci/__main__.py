"""The command line's process: ``python -m metrics_api.oci``, and ``metrics-oci``.

Set before the job's modules load: the signal handlers, so that a signal meanwhile counts,
and no garbage collection. The modules' objects live until the exit, and collecting among
them while they load costs about a tenth of the start-up; once loaded they are frozen, out
of every later collection, and collection is back on for the job. Pydantic plugins are
off unless the environment says otherwise: we use none, and looking for them scans every
installed distribution's entry points when the first model is built (about 7 ms of an
assemble here).
"""

import gc
import os

from metrics_api.oci.interrupts import INTERRUPTS


def start(*, as_module: bool = False) -> None:
    """Load the command line's modules without collecting, then run it."""
    INTERRUPTS.install()
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    gc.disable()
    from metrics_api.oci import cli, cli_parser  # noqa: PLC0415 - after the above, on purpose

    gc.freeze()
    gc.enable()
    cli.run(prog=cli_parser.MODULE_PROG if as_module else cli_parser.PROG)


if __name__ == "__main__":
    start(as_module=True)
