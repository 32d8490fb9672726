"""The command line's process: ``python -m metrics_api.oci``, and ``metrics-oci``.

Set before the job's modules load: the signal handlers, so that a signal meanwhile counts,
and no garbage collection. The modules' objects live until the exit, and collecting among
them while they load costs about a tenth of the start-up; once loaded they are frozen, out
of every later collection, and collection is back on for the job. Pydantic plugins are
off unless the environment says otherwise: we use none, and looking for them scans every
installed distribution's entry points when the first model is built (about 7 ms of an
assemble here).

The command line is parsed first, and the connections its registries will need are
opened then (``registry.early``): their handshakes happen while the job's modules load.
Once its input passed the job's checks (``cli_checks``), the job's first reads go out on
them, and their answers come back while the rest loads.
"""

import gc
import os
import sys

from metrics_api.oci.defaults import MAX_MANIFEST_BYTES
from metrics_api.oci.interrupts import INTERRUPTS
from metrics_api.oci.spec.media_types import MANIFEST_ACCEPT


def start(*, as_module: bool = False) -> None:
    """Load the command line's modules without collecting, then run it."""
    INTERRUPTS.install()
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    gc.disable()
    from metrics_api.oci import cli_parser  # noqa: PLC0415 - after the above, on purpose
    from metrics_api.oci.registry.early import EarlyConnections  # noqa: PLC0415

    prog = cli_parser.MODULE_PROG if as_module else cli_parser.PROG
    try:
        args = cli_parser.build_parser(prog).parse(sys.argv[1:])
    except cli_parser.UsageError:
        args = None  # the command line says so once its modules are loaded
    early = None
    if args is not None:
        early = EarlyConnections.open(
            cli_parser.references(args),
            args.insecure_registry,
            args.request_timeout,
        )
        from metrics_api.oci import cli_checks  # noqa: PLC0415 - once the connections are opening

        early.send(cli_checks.first_reads(args), MANIFEST_ACCEPT, MAX_MANIFEST_BYTES)
    from metrics_api.oci import cli  # noqa: PLC0415

    gc.freeze()
    gc.enable()
    cli.run(prog=prog, parsed=args, early=early)


if __name__ == "__main__":
    start(as_module=True)
